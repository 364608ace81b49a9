# The runtime sits on the tokenizer, the model and the hub; it builds once they exist.
set(HFK_RUNTIME_NEEDS
    ${CMAKE_CURRENT_LIST_DIR}/../tokenizer/tokenizer.h
    ${CMAKE_CURRENT_LIST_DIR}/../model/model.h
    ${CMAKE_CURRENT_LIST_DIR}/../model/generation_config.h
    ${CMAKE_CURRENT_LIST_DIR}/../hub/hub.h)
set(HFK_HAVE_RUNTIME ON)
foreach(f ${HFK_RUNTIME_NEEDS})
    if(NOT EXISTS ${f})
        set(HFK_HAVE_RUNTIME OFF)
    endif()
endforeach()
list(APPEND HFK_ENGINE_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/sampler.cpp
    ${CMAKE_CURRENT_LIST_DIR}/text_emitter.cpp)
if(HFK_HAVE_RUNTIME)
    list(APPEND HFK_ENGINE_SOURCES
        ${CMAKE_CURRENT_LIST_DIR}/loaded_model.cpp
        ${CMAKE_CURRENT_LIST_DIR}/session.cpp
        ${CMAKE_CURRENT_LIST_DIR}/generation_steps.cpp
        ${CMAKE_CURRENT_LIST_DIR}/session_tokens.cpp
        ${CMAKE_CURRENT_LIST_DIR}/session_state.cpp
        ${CMAKE_CURRENT_LIST_DIR}/logits.cpp
        ${CMAKE_CURRENT_LIST_DIR}/embedder.cpp
        ${CMAKE_CURRENT_LIST_DIR}/sentence_transformers.cpp
        ${CMAKE_CURRENT_LIST_DIR}/model_registry.cpp
        ${CMAKE_CURRENT_LIST_DIR}/resource_check.cpp
        ${CMAKE_CURRENT_LIST_DIR}/download_jobs.cpp
        ${CMAKE_CURRENT_LIST_DIR}/model_opening.cpp)
endif()
