// hfk_hub_params (C) -> hub::Options (engine).
#pragma once

#include "guard.h"
#include "hfkit/hfkit.h"
#include "hub/hub.h"

namespace hfk::capi {

// `p` has been read with read_options (full size). The progress callback, if any, is wrapped to
// report HFK_PHASE_DOWNLOADING events on the calling thread.
hub::Options hub_options_from(const hfk_hub_params &p);

extern const hfk_hub_params kHubDefaults;

// Reads the caller's hub params (NULL: defaults) and runs `body(params, options)` under guard():
// the common shape of every function that takes an hfk_hub_params.
template <class Body>
hfk_status with_hub_options(const hfk_hub_params *caller, Body &&body) noexcept {
    hfk_hub_params p;
    if (hfk_status s = read_options(p, caller, kHubDefaults); s != HFK_OK) return s;
    return guard([&]() -> hfk_status { return body(p, hub_options_from(p)); });
}

}  // namespace hfk::capi
