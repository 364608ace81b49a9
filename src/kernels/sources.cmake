list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/cpu.cpp
    ${CMAKE_CURRENT_LIST_DIR}/simd.cpp
    ${CMAKE_CURRENT_LIST_DIR}/rows_per_pass.cpp
    ${CMAKE_CURRENT_LIST_DIR}/thread_pool.cpp
    ${CMAKE_CURRENT_LIST_DIR}/matmul.cpp
    ${CMAKE_CURRENT_LIST_DIR}/bf16_compute.cpp
    ${CMAKE_CURRENT_LIST_DIR}/quant.cpp
    ${CMAKE_CURRENT_LIST_DIR}/quant_kernels.cpp
    ${CMAKE_CURRENT_LIST_DIR}/quant_rows16.cpp
    ${CMAKE_CURRENT_LIST_DIR}/attention.cpp
    ${CMAKE_CURRENT_LIST_DIR}/attention_heads.cpp
    ${CMAKE_CURRENT_LIST_DIR}/attention_heads_avx2.cpp
    ${CMAKE_CURRENT_LIST_DIR}/ops.cpp)
# quantize_row rounds a product by a float sum (round_clamped): a fused multiply-add would round
# once where the definition rounds twice. (Other flags than the precompiled header's: skip it.)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/quant.cpp PROPERTIES COMPILE_OPTIONS
    -ffp-contract=off SKIP_PRECOMPILE_HEADERS ON)
# Two kernel files under AddressSanitizer: a masked vector load is checked lane by lane, inline,
# and their unrolled loops mask every load. attention_heads.cpp came to 3.2 MB of code and 56 s
# of CI's compile time with clang (2.6 s under TSan), quant_rows16.cpp to 25 s. With the checks
# made through calls, and without UBSan's check of every pointer step (the bytes read are still
# checked), they compile in 12 s and 5 s; the ASan tests of attention take about 5 s longer.
# (simd.cpp gained less than its tests lost: it keeps the inline checks.)
if(HFK_SANITIZE)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        set(hfk_asan_calls -mllvm -asan-instrumentation-with-call-threshold=0)
    else()
        set(hfk_asan_calls --param=asan-instrumentation-with-call-threshold=0)
    endif()
    set_property(SOURCE ${CMAKE_CURRENT_LIST_DIR}/attention_heads.cpp
                        ${CMAKE_CURRENT_LIST_DIR}/quant_rows16.cpp
                 APPEND PROPERTY COMPILE_OPTIONS ${hfk_asan_calls} -fno-sanitize=pointer-overflow)
endif()
