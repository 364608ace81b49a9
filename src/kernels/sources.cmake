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
