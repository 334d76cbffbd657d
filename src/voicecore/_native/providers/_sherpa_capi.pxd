# Cython declarations of the sherpa-onnx C API subset that voicecore binds
# (sherpa_capi.h: struct layouts of one release series, and the function
# table vc_sherpa_load() fills with dlsym). Only sherpa.pyx cimports it.
from libc.stdint cimport int32_t

cdef extern from "sherpa_capi.h" nogil:
    ctypedef struct SherpaOnnxOnlineRecognizer:
        pass
    ctypedef struct SherpaOnnxOnlineStream:
        pass
    ctypedef struct SherpaOnnxOfflineRecognizer:
        pass
    ctypedef struct SherpaOnnxOfflineStream:
        pass
    ctypedef struct SherpaOnnxOfflineTts:
        pass

    # Only the fields voicecore sets or reads; the C compiler uses the real
    # layouts from sherpa_capi.h.
    ctypedef struct SherpaOnnxFeatureConfig:
        int32_t sample_rate
        int32_t feature_dim
    ctypedef struct SherpaOnnxOnlineTransducerModelConfig:
        const char* encoder
        const char* decoder
        const char* joiner
    ctypedef struct SherpaOnnxOnlineModelConfig:
        SherpaOnnxOnlineTransducerModelConfig transducer
        const char* tokens
        int32_t num_threads
        const char* provider
        int32_t debug
        const char* model_type
        const char* modeling_unit
    ctypedef struct SherpaOnnxOnlineRecognizerConfig:
        SherpaOnnxFeatureConfig feat_config
        SherpaOnnxOnlineModelConfig model_config
        const char* decoding_method
        int32_t max_active_paths
        int32_t enable_endpoint
        float rule1_min_trailing_silence
        float rule2_min_trailing_silence
        float rule3_min_utterance_length
    ctypedef struct SherpaOnnxOnlineRecognizerResult:
        const char* text

    ctypedef struct SherpaOnnxOfflineTransducerModelConfig:
        const char* encoder
        const char* decoder
        const char* joiner
    ctypedef struct SherpaOnnxOfflineWhisperModelConfig:
        const char* encoder
        const char* decoder
        const char* language
        const char* task
        int32_t tail_paddings
    ctypedef struct SherpaOnnxOfflineMoonshineModelConfig:
        const char* preprocessor
        const char* encoder
        const char* uncached_decoder
        const char* cached_decoder
        const char* merged_decoder
    ctypedef struct SherpaOnnxOfflineModelConfig:
        SherpaOnnxOfflineTransducerModelConfig transducer
        SherpaOnnxOfflineWhisperModelConfig whisper
        SherpaOnnxOfflineMoonshineModelConfig moonshine
        const char* tokens
        int32_t num_threads
        int32_t debug
        const char* provider
        const char* model_type
        const char* modeling_unit
    ctypedef struct SherpaOnnxOfflineRecognizerConfig:
        SherpaOnnxFeatureConfig feat_config
        SherpaOnnxOfflineModelConfig model_config
        const char* decoding_method
        int32_t max_active_paths
    ctypedef struct SherpaOnnxOfflineRecognizerResult:
        const char* text

    ctypedef struct SherpaOnnxOfflineTtsVitsModelConfig:
        const char* model
        const char* lexicon
        const char* tokens
        const char* data_dir
        float noise_scale
        float noise_scale_w
        float length_scale
    ctypedef struct SherpaOnnxOfflineTtsModelConfig:
        SherpaOnnxOfflineTtsVitsModelConfig vits
        int32_t num_threads
        int32_t debug
        const char* provider
    ctypedef struct SherpaOnnxOfflineTtsConfig:
        SherpaOnnxOfflineTtsModelConfig model
        int32_t max_num_sentences
        float silence_scale
    ctypedef struct SherpaOnnxGeneratedAudio:
        const float* samples
        int32_t n
        int32_t sample_rate
    ctypedef struct SherpaOnnxGenerationConfig:
        float silence_scale
        float speed
        int32_t sid
        const int32_t* phoneme_codepoints
        const int32_t* phoneme_codepoints_lens
        int32_t phoneme_codepoints_num_sentences
    ctypedef int32_t (*SherpaOnnxGeneratedAudioProgressCallbackWithArg)(
        const float* samples, int32_t n, float p, void* arg) noexcept

    ctypedef struct vc_sherpa_api:
        const char* (*GetVersionStr)() noexcept nogil
        const SherpaOnnxOnlineRecognizer* (*CreateOnlineRecognizer)(
            const SherpaOnnxOnlineRecognizerConfig*) noexcept nogil
        void (*DestroyOnlineRecognizer)(const SherpaOnnxOnlineRecognizer*) noexcept nogil
        const SherpaOnnxOnlineStream* (*CreateOnlineStream)(
            const SherpaOnnxOnlineRecognizer*) noexcept nogil
        void (*DestroyOnlineStream)(const SherpaOnnxOnlineStream*) noexcept nogil
        void (*OnlineStreamAcceptWaveform)(
            const SherpaOnnxOnlineStream*, int32_t, const float*, int32_t) noexcept nogil
        int32_t (*IsOnlineStreamReady)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        void (*DecodeOnlineStream)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        void (*DecodeMultipleOnlineStreams)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream**, int32_t) noexcept nogil
        const SherpaOnnxOnlineRecognizerResult* (*GetOnlineStreamResult)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        void (*DestroyOnlineRecognizerResult)(const SherpaOnnxOnlineRecognizerResult*) noexcept nogil
        void (*OnlineStreamReset)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        void (*OnlineStreamInputFinished)(const SherpaOnnxOnlineStream*) noexcept nogil
        void (*OnlineStreamSetOption)(
            const SherpaOnnxOnlineStream*, const char*, const char*) noexcept nogil
        int32_t (*OnlineStreamIsEndpoint)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        const SherpaOnnxOfflineRecognizer* (*CreateOfflineRecognizer)(
            const SherpaOnnxOfflineRecognizerConfig*) noexcept nogil
        void (*DestroyOfflineRecognizer)(const SherpaOnnxOfflineRecognizer*) noexcept nogil
        const SherpaOnnxOfflineStream* (*CreateOfflineStream)(
            const SherpaOnnxOfflineRecognizer*) noexcept nogil
        void (*DestroyOfflineStream)(const SherpaOnnxOfflineStream*) noexcept nogil
        void (*AcceptWaveformOffline)(
            const SherpaOnnxOfflineStream*, int32_t, const float*, int32_t) noexcept nogil
        void (*DecodeOfflineStream)(
            const SherpaOnnxOfflineRecognizer*, const SherpaOnnxOfflineStream*) noexcept nogil
        void (*DecodeMultipleOfflineStreams)(
            const SherpaOnnxOfflineRecognizer*, const SherpaOnnxOfflineStream**, int32_t) noexcept nogil
        const SherpaOnnxOfflineRecognizerResult* (*GetOfflineStreamResult)(
            const SherpaOnnxOfflineStream*) noexcept nogil
        void (*DestroyOfflineRecognizerResult)(const SherpaOnnxOfflineRecognizerResult*) noexcept nogil
        const SherpaOnnxOfflineTts* (*CreateOfflineTts)(const SherpaOnnxOfflineTtsConfig*) noexcept nogil
        void (*DestroyOfflineTts)(const SherpaOnnxOfflineTts*) noexcept nogil
        int32_t (*OfflineTtsSampleRate)(const SherpaOnnxOfflineTts*) noexcept nogil
        int32_t (*OfflineTtsNumSpeakers)(const SherpaOnnxOfflineTts*) noexcept nogil
        const SherpaOnnxGeneratedAudio* (*OfflineTtsGenerateWithConfig)(
            const SherpaOnnxOfflineTts*, const char*, const SherpaOnnxGenerationConfig*,
            SherpaOnnxGeneratedAudioProgressCallbackWithArg, void*) noexcept nogil
        void (*DestroyOfflineTtsGeneratedAudio)(const SherpaOnnxGeneratedAudio*) noexcept nogil

    vc_sherpa_api vc_sherpa
    int vc_sherpa_load(const char* path, char* err, size_t errlen)
    int vc_sherpa_loaded()
