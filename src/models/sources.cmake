list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/common.cpp
    ${CMAKE_CURRENT_LIST_DIR}/decoder.cpp
    ${CMAKE_CURRENT_LIST_DIR}/llama.cpp
    ${CMAKE_CURRENT_LIST_DIR}/qwen3.cpp
    ${CMAKE_CURRENT_LIST_DIR}/gemma.cpp
    ${CMAKE_CURRENT_LIST_DIR}/smollm3.cpp
    ${CMAKE_CURRENT_LIST_DIR}/phi3.cpp
    ${CMAKE_CURRENT_LIST_DIR}/gpt2.cpp
    ${CMAKE_CURRENT_LIST_DIR}/encoder.cpp
    ${CMAKE_CURRENT_LIST_DIR}/bert.cpp
    ${CMAKE_CURRENT_LIST_DIR}/roberta.cpp
    ${CMAKE_CURRENT_LIST_DIR}/distilbert.cpp
    ${CMAKE_CURRENT_LIST_DIR}/modernbert.cpp)
