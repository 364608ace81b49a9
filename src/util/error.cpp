// Anchors the engine library (and keeps hfk::Error's vtable in one object file).
#include "util/error.h"
