// The one switch every ISA's entry points make from a run-time element type to their kernel
// templates: with_dtype(t, [&](auto T) { kernel<decltype(T)::value>(...); }).
#pragma once

#include "model/dtype.h"

namespace hfk::kern {

template <DType T>
struct DTypeTag {
    static constexpr DType value = T;
};

// fn(DTypeTag<T>{}) with T = t for F16 and BF16, else F32 (the three types the kernels read).
template <class Fn>
inline void with_dtype(DType t, Fn &&fn) {
    if (t == DType::F16)
        fn(DTypeTag<DType::F16>{});
    else if (t == DType::BF16)
        fn(DTypeTag<DType::BF16>{});
    else
        fn(DTypeTag<DType::F32>{});
}

}  // namespace hfk::kern
