from typing_extensions import Buffer
from typing import TypeVar

import numpy as np
import numpy.typing as npt

_B = TypeVar("_B", bound=Buffer)

GIL_THRESHOLD: int

def s16le_to_float32(data: Buffer, out: _B | None = None) -> npt.NDArray[np.float32] | _B: ...
def float32_to_s16le(samples: Buffer, out: _B | None = None) -> bytes | _B: ...
def mean_square(data: Buffer) -> float: ...
def rms_dbfs(data: Buffer, floor: float = -60.0) -> float: ...
