# The C ABI layer: thin functions that check arguments, call the engine and map errors.
set(HFK_CAPI_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/src/errors.cpp
    ${CMAKE_CURRENT_LIST_DIR}/src/version.cpp)
if(HFK_HAVE_RUNTIME)
    list(APPEND HFK_CAPI_SOURCES
        ${CMAKE_CURRENT_LIST_DIR}/src/tokenizer_api.cpp
        ${CMAKE_CURRENT_LIST_DIR}/src/model_api.cpp
        ${CMAKE_CURRENT_LIST_DIR}/src/session_api.cpp
        ${CMAKE_CURRENT_LIST_DIR}/src/session_tokens.cpp
        ${CMAKE_CURRENT_LIST_DIR}/src/constraint_api.cpp
        ${CMAKE_CURRENT_LIST_DIR}/src/hub_api.cpp
        ${CMAKE_CURRENT_LIST_DIR}/src/inspect_api.cpp
        ${CMAKE_CURRENT_LIST_DIR}/src/chat_api.cpp
        ${CMAKE_CURRENT_LIST_DIR}/src/engine_api.cpp)
endif()
