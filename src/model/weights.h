// WeightStore (all tensors of a checkpoint directory) and WeightBinder (architecture-side binding
// with shape checks) are declared in model/safetensors.h, next to TensorInfo; this header exists
// so that callers can say what they use.
#pragma once

#include "model/safetensors.h"
