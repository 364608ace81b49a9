// hfk_hub_params (C) -> hub::Options (engine).
#pragma once

#include "hfkit/hfkit.h"
#include "hub/hub.h"

namespace hfk::capi {

// `p` has been read with read_options (full size). The progress callback, if any, is wrapped to
// report HFK_PHASE_DOWNLOADING events on the calling thread.
hub::Options hub_options_from(const hfk_hub_params &p);

extern const hfk_hub_params kHubDefaults;

}  // namespace hfk::capi
