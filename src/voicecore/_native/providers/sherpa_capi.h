/* sherpa_capi.h: the part of the sherpa-onnx C API (2.0.x series) that
 * voicecore._native.sherpa uses, declared here so that building voicecore
 * never needs sherpa-onnx installed.
 *
 * The struct layouts below are the ABI of sherpa-onnx 2.0.x
 * (sherpa-onnx/c-api/c-api.h of release 2.0.1, Apache-2.0, by Xiaomi Corp.),
 * field for field, comments removed. tests/test_sherpa_capi.py compares every
 * struct here with the c-api.h of the installed sherpa-onnx-core wheel.
 *
 * The library is not linked: vc_sherpa_load() dlopen()s
 * libsherpa-onnx-c-api.so at run time and resolves each function with dlsym()
 * into the table vc_sherpa (one table per process).
 */
#ifndef VOICECORE_SHERPA_CAPI_H_
#define VOICECORE_SHERPA_CAPI_H_

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(_WIN32)
#include <windows.h>
typedef HMODULE vc_lib_t;
static vc_lib_t vc_dlopen(const char *path) { return LoadLibraryA(path); }
static void *vc_dlsym(vc_lib_t h, const char *name) { return (void *)GetProcAddress(h, name); }
static void vc_dlclose(vc_lib_t h) { FreeLibrary(h); }
static const char *vc_dlerror(void) { return "LoadLibrary failed"; }
#else
#include <dlfcn.h>
typedef void *vc_lib_t;
static vc_lib_t vc_dlopen(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
static void *vc_dlsym(vc_lib_t h, const char *name) { return dlsym(h, name); }
static void vc_dlclose(vc_lib_t h) { dlclose(h); }
static const char *vc_dlerror(void) { return dlerror(); }
#endif

typedef struct SherpaOnnxOnlineRecognizer SherpaOnnxOnlineRecognizer;
typedef struct SherpaOnnxOnlineStream SherpaOnnxOnlineStream;
typedef struct SherpaOnnxOfflineRecognizer SherpaOnnxOfflineRecognizer;
typedef struct SherpaOnnxOfflineStream SherpaOnnxOfflineStream;
typedef struct SherpaOnnxOfflineTts SherpaOnnxOfflineTts;

typedef struct SherpaOnnxOnlineTransducerModelConfig {
  const char *encoder;
  const char *decoder;
  const char *joiner;
} SherpaOnnxOnlineTransducerModelConfig;
typedef struct SherpaOnnxOnlineParaformerModelConfig {
  const char *encoder;
  const char *decoder;
} SherpaOnnxOnlineParaformerModelConfig;
typedef struct SherpaOnnxOnlineZipformer2CtcModelConfig {
  const char *model;
} SherpaOnnxOnlineZipformer2CtcModelConfig;
typedef struct SherpaOnnxOnlineNemoCtcModelConfig {
  const char *model;
} SherpaOnnxOnlineNemoCtcModelConfig;
typedef struct SherpaOnnxOnlineToneCtcModelConfig {
  const char *model;
} SherpaOnnxOnlineToneCtcModelConfig;
typedef struct SherpaOnnxOnlineModelConfig {
  SherpaOnnxOnlineTransducerModelConfig transducer;
  SherpaOnnxOnlineParaformerModelConfig paraformer;
  SherpaOnnxOnlineZipformer2CtcModelConfig zipformer2_ctc;
  const char *tokens;
  int32_t num_threads;
  const char *provider;
  int32_t debug;
  const char *model_type;
  const char *modeling_unit;
  const char *bpe_vocab;
  const char *tokens_buf;
  int32_t tokens_buf_size;
  SherpaOnnxOnlineNemoCtcModelConfig nemo_ctc;
  SherpaOnnxOnlineToneCtcModelConfig t_one_ctc;
} SherpaOnnxOnlineModelConfig;
typedef struct SherpaOnnxFeatureConfig {
  int32_t sample_rate;
  int32_t feature_dim;
} SherpaOnnxFeatureConfig;
typedef struct SherpaOnnxOnlineCtcFstDecoderConfig {
  const char *graph;
  int32_t max_active;
} SherpaOnnxOnlineCtcFstDecoderConfig;
typedef struct SherpaOnnxOfflineCtcFstDecoderConfig {
  const char *graph;
  int32_t max_active;
} SherpaOnnxOfflineCtcFstDecoderConfig;
typedef struct SherpaOnnxHomophoneReplacerConfig {
  const char *dict_dir;
  const char *lexicon;
  const char *rule_fsts;
} SherpaOnnxHomophoneReplacerConfig;
typedef struct SherpaOnnxOnlineRecognizerConfig {
  SherpaOnnxFeatureConfig feat_config;
  SherpaOnnxOnlineModelConfig model_config;
  const char *decoding_method;
  int32_t max_active_paths;
  int32_t enable_endpoint;
  float rule1_min_trailing_silence;
  float rule2_min_trailing_silence;
  float rule3_min_utterance_length;
  const char *hotwords_file;
  float hotwords_score;
  SherpaOnnxOnlineCtcFstDecoderConfig ctc_fst_decoder_config;
  const char *rule_fsts;
  const char *rule_fars;
  float blank_penalty;
  const char *hotwords_buf;
  int32_t hotwords_buf_size;
  SherpaOnnxHomophoneReplacerConfig hr;
} SherpaOnnxOnlineRecognizerConfig;
typedef struct SherpaOnnxOnlineRecognizerResult {
  const char *text;
  const char *tokens;
  const char *const *tokens_arr;
  float *timestamps;
  int32_t count;
  const char *json;
} SherpaOnnxOnlineRecognizerResult;
typedef struct SherpaOnnxOfflineTransducerModelConfig {
  const char *encoder;
  const char *decoder;
  const char *joiner;
} SherpaOnnxOfflineTransducerModelConfig;
typedef struct SherpaOnnxOfflineParaformerModelConfig {
  const char *model;
} SherpaOnnxOfflineParaformerModelConfig;
typedef struct SherpaOnnxOfflineNemoEncDecCtcModelConfig {
  const char *model;
} SherpaOnnxOfflineNemoEncDecCtcModelConfig;
typedef struct SherpaOnnxOfflineWhisperModelConfig {
  const char *encoder;
  const char *decoder;
  const char *language;
  const char *task;
  int32_t tail_paddings;
  int32_t enable_token_timestamps;
  int32_t enable_segment_timestamps;
} SherpaOnnxOfflineWhisperModelConfig;
typedef struct SherpaOnnxOfflineCanaryModelConfig {
  const char *encoder;
  const char *decoder;
  const char *src_lang;
  const char *tgt_lang;
  int32_t use_pnc;
} SherpaOnnxOfflineCanaryModelConfig;
typedef struct SherpaOnnxOfflineCohereTranscribeModelConfig {
  const char *encoder;
  const char *decoder;
  const char *language;
  int32_t use_punct;
  int32_t use_itn;
} SherpaOnnxOfflineCohereTranscribeModelConfig;
typedef struct SherpaOnnxOfflineFireRedAsrModelConfig {
  const char *encoder;
  const char *decoder;
} SherpaOnnxOfflineFireRedAsrModelConfig;
typedef struct SherpaOnnxOfflineFireRedAsrCtcModelConfig {
  const char *model;
} SherpaOnnxOfflineFireRedAsrCtcModelConfig;
typedef struct SherpaOnnxOfflineMoonshineModelConfig {
  const char *preprocessor;
  const char *encoder;
  const char *uncached_decoder;
  const char *cached_decoder;
  const char *merged_decoder;
} SherpaOnnxOfflineMoonshineModelConfig;
typedef struct SherpaOnnxOfflineTdnnModelConfig {
  const char *model;
} SherpaOnnxOfflineTdnnModelConfig;
typedef struct SherpaOnnxOfflineLMConfig {
  const char *model;
  float scale;
} SherpaOnnxOfflineLMConfig;
typedef struct SherpaOnnxOfflineSenseVoiceModelConfig {
  const char *model;
  const char *language;
  int32_t use_itn;
} SherpaOnnxOfflineSenseVoiceModelConfig;
typedef struct SherpaOnnxOfflineDolphinModelConfig {
  const char *model;
} SherpaOnnxOfflineDolphinModelConfig;
typedef struct SherpaOnnxOfflineZipformerCtcModelConfig {
  const char *model;
} SherpaOnnxOfflineZipformerCtcModelConfig;
typedef struct SherpaOnnxOfflineWenetCtcModelConfig {
  const char *model;
} SherpaOnnxOfflineWenetCtcModelConfig;
typedef struct SherpaOnnxOfflineOmnilingualAsrCtcModelConfig {
  const char *model;
} SherpaOnnxOfflineOmnilingualAsrCtcModelConfig;
typedef struct SherpaOnnxOfflineFunASRNanoModelConfig {
  const char *encoder_adaptor;
  const char *llm;
  const char *embedding;
  const char *tokenizer;
  const char *system_prompt;
  const char *user_prompt;
  int32_t max_new_tokens;
  float temperature;
  float top_p;
  int32_t seed;
  const char *language;
  int32_t itn;
  const char *hotwords;
} SherpaOnnxOfflineFunASRNanoModelConfig;
typedef struct SherpaOnnxOfflineQwen3ASRModelConfig {
  const char *conv_frontend;
  const char *encoder;
  const char *decoder;
  const char *tokenizer;
  int32_t max_total_len;
  int32_t max_new_tokens;
  float temperature;
  float top_p;
  int32_t seed;
  const char *hotwords;
} SherpaOnnxOfflineQwen3ASRModelConfig;
typedef struct SherpaOnnxOfflineMedAsrCtcModelConfig {
  const char *model;
} SherpaOnnxOfflineMedAsrCtcModelConfig;
typedef struct SherpaOnnxOfflineModelConfig {
  SherpaOnnxOfflineTransducerModelConfig transducer;
  SherpaOnnxOfflineParaformerModelConfig paraformer;
  SherpaOnnxOfflineNemoEncDecCtcModelConfig nemo_ctc;
  SherpaOnnxOfflineWhisperModelConfig whisper;
  SherpaOnnxOfflineTdnnModelConfig tdnn;
  const char *tokens;
  int32_t num_threads;
  int32_t debug;
  const char *provider;
  const char *model_type;
  const char *modeling_unit;
  const char *bpe_vocab;
  const char *telespeech_ctc;
  SherpaOnnxOfflineSenseVoiceModelConfig sense_voice;
  SherpaOnnxOfflineMoonshineModelConfig moonshine;
  SherpaOnnxOfflineFireRedAsrModelConfig fire_red_asr;
  SherpaOnnxOfflineDolphinModelConfig dolphin;
  SherpaOnnxOfflineZipformerCtcModelConfig zipformer_ctc;
  SherpaOnnxOfflineCanaryModelConfig canary;
  SherpaOnnxOfflineWenetCtcModelConfig wenet_ctc;
  SherpaOnnxOfflineOmnilingualAsrCtcModelConfig omnilingual;
  SherpaOnnxOfflineMedAsrCtcModelConfig medasr;
  SherpaOnnxOfflineFunASRNanoModelConfig funasr_nano;
  SherpaOnnxOfflineFireRedAsrCtcModelConfig fire_red_asr_ctc;
  SherpaOnnxOfflineQwen3ASRModelConfig qwen3_asr;
  SherpaOnnxOfflineCohereTranscribeModelConfig cohere_transcribe;
} SherpaOnnxOfflineModelConfig;
typedef struct SherpaOnnxOfflineRecognizerConfig {
  SherpaOnnxFeatureConfig feat_config;
  SherpaOnnxOfflineModelConfig model_config;
  SherpaOnnxOfflineLMConfig lm_config;
  const char *decoding_method;
  int32_t max_active_paths;
  const char *hotwords_file;
  float hotwords_score;
  const char *rule_fsts;
  const char *rule_fars;
  float blank_penalty;
  SherpaOnnxHomophoneReplacerConfig hr;
  SherpaOnnxOfflineCtcFstDecoderConfig ctc_fst_decoder_config;
} SherpaOnnxOfflineRecognizerConfig;
typedef struct SherpaOnnxOfflineRecognizerResult {
  const char *text;
  float *timestamps;
  int32_t count;
  const char *tokens;
  const char *const *tokens_arr;
  const char *json;
  const char *lang;
  const char *emotion;
  const char *event;
  float *durations;
  float *ys_log_probs;
  const float *segment_timestamps;
  const float *segment_durations;
  const char *segment_texts;
  const char *const *segment_texts_arr;
  int32_t segment_count;
} SherpaOnnxOfflineRecognizerResult;
typedef struct SherpaOnnxOfflineTtsVitsModelConfig {
  const char *model;
  const char *lexicon;
  const char *tokens;
  const char *data_dir;
  float noise_scale;
  float noise_scale_w;
  float length_scale;
  const char *dict_dir;
} SherpaOnnxOfflineTtsVitsModelConfig;
typedef struct SherpaOnnxOfflineTtsMatchaModelConfig {
  const char *acoustic_model;
  const char *vocoder;
  const char *lexicon;
  const char *tokens;
  const char *data_dir;
  float noise_scale;
  float length_scale;
  const char *dict_dir;
} SherpaOnnxOfflineTtsMatchaModelConfig;
typedef struct SherpaOnnxOfflineTtsKokoroModelConfig {
  const char *model;
  const char *voices;
  const char *tokens;
  const char *data_dir;
  float length_scale;
  const char *dict_dir;
  const char *lexicon;
  const char *lang;
} SherpaOnnxOfflineTtsKokoroModelConfig;
typedef struct SherpaOnnxOfflineTtsKittenModelConfig {
  const char *model;
  const char *voices;
  const char *tokens;
  const char *data_dir;
  float length_scale;
  const char *lexicon;
} SherpaOnnxOfflineTtsKittenModelConfig;
typedef struct SherpaOnnxOfflineTtsZipvoiceModelConfig {
  const char *tokens;
  const char *encoder;
  const char *decoder;
  const char *vocoder;
  const char *data_dir;
  const char *lexicon;
  float feat_scale;
  float t_shift;
  float target_rms;
  float guidance_scale;
} SherpaOnnxOfflineTtsZipvoiceModelConfig;
typedef struct SherpaOnnxOfflineTtsPocketModelConfig {
  const char *lm_flow;
  const char *lm_main;
  const char *encoder;
  const char *decoder;
  const char *text_conditioner;
  const char *vocab_json;
  const char *token_scores_json;
  int32_t voice_embedding_cache_capacity;
} SherpaOnnxOfflineTtsPocketModelConfig;
typedef struct SherpaOnnxOfflineTtsSupertonicModelConfig {
  const char *duration_predictor;
  const char *text_encoder;
  const char *vector_estimator;
  const char *vocoder;
  const char *tts_json;
  const char *unicode_indexer;
  const char *voice_style;
} SherpaOnnxOfflineTtsSupertonicModelConfig;
typedef struct SherpaOnnxOfflineTtsModelConfig {
  SherpaOnnxOfflineTtsVitsModelConfig vits;
  int32_t num_threads;
  int32_t debug;
  const char *provider;
  SherpaOnnxOfflineTtsMatchaModelConfig matcha;
  SherpaOnnxOfflineTtsKokoroModelConfig kokoro;
  SherpaOnnxOfflineTtsKittenModelConfig kitten;
  SherpaOnnxOfflineTtsZipvoiceModelConfig zipvoice;
  SherpaOnnxOfflineTtsPocketModelConfig pocket;
  SherpaOnnxOfflineTtsSupertonicModelConfig supertonic;
} SherpaOnnxOfflineTtsModelConfig;
typedef struct SherpaOnnxOfflineTtsConfig {
  SherpaOnnxOfflineTtsModelConfig model;
  const char *rule_fsts;
  int32_t max_num_sentences;
  const char *rule_fars;
  float silence_scale;
} SherpaOnnxOfflineTtsConfig;
typedef struct SherpaOnnxGeneratedAudio {
  const float *samples;
  int32_t n;
  int32_t sample_rate;
} SherpaOnnxGeneratedAudio;
typedef struct SherpaOnnxGenerationConfig {
  float silence_scale;
  float speed;
  int32_t sid;
  const float *reference_audio;
  int32_t reference_audio_len;
  int32_t reference_sample_rate;
  const char *reference_text;
  int32_t num_steps;
  const char *extra;
  const int32_t *phoneme_codepoints;
  const int32_t *phoneme_codepoints_lens;
  int32_t phoneme_codepoints_num_sentences;
  const char *const *tokens;
  const int32_t *tokens_lens;
  int32_t tokens_num_sentences;
} SherpaOnnxGenerationConfig;

typedef int32_t (*SherpaOnnxGeneratedAudioProgressCallbackWithArg)(
    const float *samples, int32_t n, float p, void *arg);

/* ------------------------------------------------------------------ functions */
#define VC_SHERPA_FUNCS(X)                                                          \
  X(const char *, GetVersionStr, (void))                                            \
  X(const SherpaOnnxOnlineRecognizer *, CreateOnlineRecognizer,                     \
    (const SherpaOnnxOnlineRecognizerConfig *))                                     \
  X(void, DestroyOnlineRecognizer, (const SherpaOnnxOnlineRecognizer *))            \
  X(const SherpaOnnxOnlineStream *, CreateOnlineStream,                             \
    (const SherpaOnnxOnlineRecognizer *))                                           \
  X(void, DestroyOnlineStream, (const SherpaOnnxOnlineStream *))                    \
  X(void, OnlineStreamAcceptWaveform,                                               \
    (const SherpaOnnxOnlineStream *, int32_t, const float *, int32_t))              \
  X(int32_t, IsOnlineStreamReady,                                                   \
    (const SherpaOnnxOnlineRecognizer *, const SherpaOnnxOnlineStream *))           \
  X(void, DecodeOnlineStream,                                                       \
    (const SherpaOnnxOnlineRecognizer *, const SherpaOnnxOnlineStream *))           \
  X(void, DecodeMultipleOnlineStreams,                                              \
    (const SherpaOnnxOnlineRecognizer *, const SherpaOnnxOnlineStream **, int32_t)) \
  X(const SherpaOnnxOnlineRecognizerResult *, GetOnlineStreamResult,                \
    (const SherpaOnnxOnlineRecognizer *, const SherpaOnnxOnlineStream *))           \
  X(void, DestroyOnlineRecognizerResult, (const SherpaOnnxOnlineRecognizerResult *))\
  X(void, OnlineStreamReset,                                                        \
    (const SherpaOnnxOnlineRecognizer *, const SherpaOnnxOnlineStream *))           \
  X(void, OnlineStreamInputFinished, (const SherpaOnnxOnlineStream *))              \
  X(void, OnlineStreamSetOption,                                                    \
    (const SherpaOnnxOnlineStream *, const char *, const char *))                   \
  X(int32_t, OnlineStreamIsEndpoint,                                                \
    (const SherpaOnnxOnlineRecognizer *, const SherpaOnnxOnlineStream *))           \
  X(const SherpaOnnxOfflineRecognizer *, CreateOfflineRecognizer,                   \
    (const SherpaOnnxOfflineRecognizerConfig *))                                    \
  X(void, DestroyOfflineRecognizer, (const SherpaOnnxOfflineRecognizer *))          \
  X(const SherpaOnnxOfflineStream *, CreateOfflineStream,                           \
    (const SherpaOnnxOfflineRecognizer *))                                          \
  X(void, DestroyOfflineStream, (const SherpaOnnxOfflineStream *))                  \
  X(void, AcceptWaveformOffline,                                                    \
    (const SherpaOnnxOfflineStream *, int32_t, const float *, int32_t))             \
  X(void, DecodeOfflineStream,                                                      \
    (const SherpaOnnxOfflineRecognizer *, const SherpaOnnxOfflineStream *))         \
  X(void, DecodeMultipleOfflineStreams,                                             \
    (const SherpaOnnxOfflineRecognizer *, const SherpaOnnxOfflineStream **, int32_t))\
  X(const SherpaOnnxOfflineRecognizerResult *, GetOfflineStreamResult,              \
    (const SherpaOnnxOfflineStream *))                                              \
  X(void, DestroyOfflineRecognizerResult, (const SherpaOnnxOfflineRecognizerResult *))\
  X(const SherpaOnnxOfflineTts *, CreateOfflineTts, (const SherpaOnnxOfflineTtsConfig *))\
  X(void, DestroyOfflineTts, (const SherpaOnnxOfflineTts *))                        \
  X(int32_t, OfflineTtsSampleRate, (const SherpaOnnxOfflineTts *))                  \
  X(int32_t, OfflineTtsNumSpeakers, (const SherpaOnnxOfflineTts *))                 \
  X(const SherpaOnnxGeneratedAudio *, OfflineTtsGenerateWithConfig,                 \
    (const SherpaOnnxOfflineTts *, const char *, const SherpaOnnxGenerationConfig *,\
     SherpaOnnxGeneratedAudioProgressCallbackWithArg, void *))                      \
  X(void, DestroyOfflineTtsGeneratedAudio, (const SherpaOnnxGeneratedAudio *))

#define VC_SHERPA_FIELD(ret, name, args) ret (*name) args;
typedef struct vc_sherpa_api {
  VC_SHERPA_FUNCS(VC_SHERPA_FIELD)
} vc_sherpa_api;
#undef VC_SHERPA_FIELD

static vc_sherpa_api vc_sherpa;
static vc_lib_t vc_sherpa_handle = NULL;

/* Load the library at `path` and resolve every function. 0 on success; on
 * failure -1 with a message in err (the table is left empty). Call with the
 * GIL held (once per process). */
static int vc_sherpa_load(const char *path, char *err, size_t errlen) {
  vc_lib_t h;
  vc_sherpa_api api;
  const char *msg;
  if (vc_sherpa_handle != NULL) return 0;
  h = vc_dlopen(path);
  if (h == NULL) {
    msg = vc_dlerror();
    snprintf(err, errlen, "dlopen(%s) failed: %s", path, msg ? msg : "unknown error");
    return -1;
  }
  memset(&api, 0, sizeof(api));
#define VC_SHERPA_RESOLVE(ret, name, args)                                      \
  *(void **)(&api.name) = vc_dlsym(h, "SherpaOnnx" #name);                      \
  if (api.name == NULL) {                                                       \
    snprintf(err, errlen, "%s has no symbol SherpaOnnx" #name, path);           \
    vc_dlclose(h);                                                              \
    return -1;                                                                  \
  }
  VC_SHERPA_FUNCS(VC_SHERPA_RESOLVE)
#undef VC_SHERPA_RESOLVE
  vc_sherpa = api;
  vc_sherpa_handle = h;
  return 0;
}

static int vc_sherpa_loaded(void) { return vc_sherpa_handle != NULL; }

#endif /* VOICECORE_SHERPA_CAPI_H_ */
