# The compute helper's tests: kernels against scalar references, and every forward pass against
# ../shared/reference/forward.
hfk_add_gtest(test_model_compute LABELS unit SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/test_kernels.cpp
    ${CMAKE_CURRENT_LIST_DIR}/test_forward.cpp)
# Test discovery runs the binary without the CTest environment: compile in the fallback location.
target_compile_definitions(test_model_compute PRIVATE HFK_TEST_SHARED_DIR="${HFK_SHARED_DIR}")

# Rows per pass of the decode kernels (issue 22): the same bits for every choice. The linear()
# case runs again at each lower instruction set (HFK_KERNELS), and the choice's source with
# HFK_DECODE_ROWS=2 and with an invalid value.
hfk_add_gtest(test_decode_rows LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_decode_rows.cpp)
hfk_add_isa_runs(decode_rows.linear test_decode_rows
                 DecodeRows.LinearSameBitsForEveryChoiceAndThreadCount avx2 scalar)
foreach(value 2 3)
    add_test(NAME decode_rows.env.${value}
             COMMAND test_decode_rows --gtest_filter=DecodeRows.ChoiceFromEnvironmentOrCpuFamily)
    set_tests_properties(decode_rows.env.${value} PROPERTIES LABELS unit
                         ENVIRONMENT "${HFK_TEST_ENV};HFK_DECODE_ROWS=${value}")
endforeach()
foreach(value 4096 100)
    add_test(NAME decode_prefetch.env.${value}
             COMMAND test_decode_rows --gtest_filter=DecodePrefetch.ChoiceFromEnvironmentOrCpuFamily)
    set_tests_properties(decode_prefetch.env.${value} PROPERTIES LABELS unit
                         ENVIRONMENT "${HFK_TEST_ENV};HFK_DECODE_PREFETCH=${value}")
endforeach()

# The BF16 compute mode (issue 22): the vdpbf16ps kernel against the portable reference (SKIPPED
# without AVX512_BF16), linear() under the mode; again with HFK_KERNELS=avx2 (the mode falls back).
hfk_add_gtest(test_bf16_compute LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bf16_compute.cpp)
hfk_add_isa_runs(bf16_compute.fallback test_bf16_compute
                 Bf16Compute.LinearTakes*:Bf16Compute.KernelChoice* avx2)
# Its error against the F32 reference over the shared references (printed; README quotes it).
hfk_add_gtest(test_bf16_compute_error LABELS unit SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/test_bf16_compute_error.cpp LIBS nlohmann_json::nlohmann_json)
target_compile_definitions(test_bf16_compute_error PRIVATE HFK_TEST_SHARED_DIR="${HFK_SHARED_DIR}")
# The engine's batched product (issue 19): the register-blocked kernel gives the decode kernel's
# bits for any number of rows; the linear_rows case runs again at each lower instruction set.
hfk_add_gtest(test_linear_rows LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_linear_rows.cpp)
hfk_add_isa_runs(linear_rows test_linear_rows LinearRows.SameBitsAsOneRowDecodeForEveryChoice
                 avx2 scalar)

# GPT-2's Conv1D matrices transposed at load (issue 22, item 2): against a naive transpose at odd
# shapes, every load format, and decode bits at any thread count.
hfk_add_gtest(test_transposed_weights LABELS unit
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_transposed_weights.cpp)
target_compile_definitions(test_transposed_weights PRIVATE HFK_TEST_SHARED_DIR="${HFK_SHARED_DIR}")
# The decode attention's heads kernels against one dot_rows / axpy_rows call per head, bit for bit.
hfk_add_gtest(test_attention_heads LABELS unit COST 25
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_attention_heads.cpp)
hfk_add_gtest(test_attention_layout LABELS unit COST 15
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_attention_layout.cpp)
