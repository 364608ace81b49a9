# Behaviour through the public API (needs the engine: tokenizer, model, runtime, hub).
if(NOT HFK_HAVE_RUNTIME)
    return()
endif()

# hfk_add_api_test(name LABELS l... SOURCES s... [COST s]): a GoogleTest binary that links only
# the shared library (plus header-only JSON for reading references).
function(hfk_add_api_test name)
    cmake_parse_arguments(T "" "COST" "LABELS;SOURCES" ${ARGN})
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE hfkit GTest::gtest GTest::gtest_main Threads::Threads
                                          nlohmann_json::nlohmann_json)
    target_precompile_headers(${name} REUSE_FROM hfk_api_gtest_pch)
    hfk_discover_gtests(${name} LABELS ${T_LABELS} COST ${T_COST})
endfunction()

hfk_add_api_test(test_generation LABELS "capi;unit" SOURCES test_generation.cpp)
hfk_add_api_test(test_concurrency LABELS "capi;unit;tsan" SOURCES test_concurrency.cpp)
# Against the local Hub server (tests/hub/hub_server.py); the fixture reads its log with curl.
hfk_add_api_test(test_model_states LABELS "capi;unit;hub;tsan" COST 10
                 SOURCES test_model_states.cpp)
target_link_libraries(test_model_states PRIVATE CURL::libcurl)
target_include_directories(test_model_states PRIVATE ${PROJECT_SOURCE_DIR}/src)
hfk_add_api_test(test_inspect_api LABELS "capi;unit;hub" SOURCES test_inspect_api.cpp)
target_link_libraries(test_inspect_api PRIVATE CURL::libcurl)
target_include_directories(test_inspect_api PRIVATE ${PROJECT_SOURCE_DIR}/src)
# Prompt edge cases, generation_config.json defaults and EOS ids; encoders (CLS pooling,
# classification) against the torch reference.
hfk_add_api_test(test_generation_defaults LABELS "capi;unit" SOURCES test_generation_defaults.cpp)
hfk_add_api_test(test_encoder_api LABELS "capi;unit" SOURCES test_encoder_api.cpp)
# A cache without symlinks (HF_HUB_DISABLE_SYMLINKS), against the local Hub.
hfk_add_api_test(test_no_symlinks LABELS "capi;unit;hub" SOURCES test_no_symlinks.cpp)
target_link_libraries(test_no_symlinks PRIVATE CURL::libcurl)
target_include_directories(test_no_symlinks PRIVATE ${PROJECT_SOURCE_DIR}/src)
# Multi-turn equivalence: a continued session equals a fresh one over the concatenated text.
hfk_add_api_test(test_multiturn LABELS "capi;unit" SOURCES test_multiturn.cpp)
# Issue 15's Hub hardening through the API (warnings, complete, removal), against the local Hub.
hfk_add_api_test(test_hub_api_hardening LABELS "capi;unit;hub" SOURCES test_hub_api_hardening.cpp)
target_link_libraries(test_hub_api_hardening PRIVATE CURL::libcurl)
target_include_directories(test_hub_api_hardening PRIVATE ${PROJECT_SOURCE_DIR}/src)
# Issue 15, runtime items: memory check context, padded vocabularies, tiny temperatures, encoder
# NaN, truncated weights, huge vocabulary ids, nonsense sampling options.
hfk_add_api_test(test_hardening_runtime LABELS "capi;unit" SOURCES test_hardening_runtime.cpp)
# Issue 15, model lifecycle: the handle in the state callback, reopening a loaded model, progress
# that never goes back, one progress story. Against the local Hub; also run under TSan.
hfk_add_api_test(test_model_lifecycle LABELS "capi;unit;hub;tsan" SOURCES test_model_lifecycle.cpp)
target_link_libraries(test_model_lifecycle PRIVATE CURL::libcurl)
target_include_directories(test_model_lifecycle PRIVATE ${PROJECT_SOURCE_DIR}/src)
hfk_add_api_test(test_quant_api LABELS "capi;unit" SOURCES test_quant_api.cpp)
hfk_add_api_test(test_quant_embeddings_api LABELS "capi;unit" SOURCES test_quant_embeddings_api.cpp)
# Issue 18: the KV cache type of a session (hfk_session_params.kv_dtype).
hfk_add_api_test(test_kv_dtype_api LABELS "capi;unit" SOURCES test_kv_dtype_api.cpp)
# hfk_session_params.compute (issue 22): the BF16 compute mode through the C API.
hfk_add_api_test(test_compute_api LABELS "capi;unit" SOURCES test_compute_api.cpp)
# Issue 20: logprobs, the token-level API, scoring, fork/truncate, and saved sessions.
hfk_add_api_test(test_token_api LABELS "capi;unit" SOURCES test_token_api.cpp)
hfk_add_api_test(test_session_state LABELS "capi;unit" SOURCES test_session_state.cpp)
# hfk_constraint_check: a constraint compiled without generating (hfkit serve's response_format).
hfk_add_api_test(test_constraint_check LABELS "capi;unit" SOURCES test_constraint_check.cpp)
# The encoder zoo (tests/model/zoo/make_encoders.py, fixture encoder_zoo) through the C API.
add_executable(test_encoder_zoo_api test_encoder_zoo_api.cpp)
target_precompile_headers(test_encoder_zoo_api REUSE_FROM hfk_api_gtest_pch)
target_link_libraries(test_encoder_zoo_api PRIVATE hfkit GTest::gtest GTest::gtest_main
                                                   Threads::Threads nlohmann_json::nlohmann_json)
hfk_discover_gtests(test_encoder_zoo_api LABELS capi unit FIXTURES encoder_zoo
    ENVIRONMENT "HFK_ENCODER_ZOO_DIR=${PROJECT_BINARY_DIR}/tests/model/encoder_zoo")
# Cross-encoder rerankers (hfk_model_rerank) on the encoder zoo's pair references.
add_executable(test_rerank_api test_rerank_api.cpp)
target_precompile_headers(test_rerank_api REUSE_FROM hfk_api_gtest_pch)
target_link_libraries(test_rerank_api PRIVATE hfkit GTest::gtest GTest::gtest_main
                                              Threads::Threads nlohmann_json::nlohmann_json)
hfk_discover_gtests(test_rerank_api LABELS capi unit FIXTURES encoder_zoo
    ENVIRONMENT "HFK_ENCODER_ZOO_DIR=${PROJECT_BINARY_DIR}/tests/model/encoder_zoo")
