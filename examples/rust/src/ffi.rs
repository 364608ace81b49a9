//! Hand-written declarations of the parts of `hfkit/hfkit.h` this example uses.
//!
//! Every struct mirrors the C layout field for field (`#[repr(C)]`) and is filled by its
//! `hfk_*_init` function with our `size_of`, as the C API's options-struct rule asks; a newer
//! library then treats the fields we do not know as defaults.
#![allow(non_camel_case_types, dead_code)]

use std::os::raw::{c_char, c_void};

pub type hfk_status = i32;
pub const HFK_OK: hfk_status = 0;
pub const HFK_E_NOT_FOUND: hfk_status = -6;
/// The ABI this file was written against (the SONAME major, libhfkit.so.0).
pub const HFK_ABI_VERSION: u32 = 0;

#[repr(C)]
pub struct hfk_model {
    _private: [u8; 0],
}
#[repr(C)]
pub struct hfk_session {
    _private: [u8; 0],
}

#[repr(C)]
pub struct hfk_gen_params {
    pub struct_size: u32,
    pub max_new_tokens: i32,
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub min_p: f32,
    pub repetition_penalty: f32,
    pub presence_penalty: f32,
    pub frequency_penalty: f32,
    pub seed: u64,
    pub stop: *const *const c_char,
    pub n_stop: i32,
    pub add_special_tokens: i32,
    pub ignore_eos: i32,
}

#[repr(C)]
pub struct hfk_gen_result {
    pub struct_size: u32,
    pub stop_reason: i32,
    pub n_prompt_tokens: i32,
    pub n_reused_tokens: i32,
    pub n_generated_tokens: i32,
    pub time_to_first_token_ms: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
}

/// Must not unwind: a panic crossing the C frames would abort (see `main.rs`).
pub type hfk_piece_cb =
    Option<unsafe extern "C" fn(piece: *const c_char, len: usize, user_data: *mut c_void) -> i32>;

#[link(name = "hfkit")]
extern "C" {
    pub fn hfk_abi_version() -> u32;
    pub fn hfk_version_string() -> *const c_char;
    pub fn hfk_status_name(code: hfk_status) -> *const c_char;
    pub fn hfk_last_error_message() -> *const c_char;
    pub fn hfk_free(ptr: *mut c_void);
    pub fn hfk_model_load(
        out: *mut *mut hfk_model,
        dir: *const c_char,
        params: *const c_void,
    ) -> hfk_status;
    pub fn hfk_model_free(model: *mut hfk_model);
    pub fn hfk_model_architecture(model: *const hfk_model) -> *const c_char;
    pub fn hfk_session_create(
        out: *mut *mut hfk_session,
        model: *mut hfk_model,
        params: *const c_void,
    ) -> hfk_status;
    pub fn hfk_session_free(session: *mut hfk_session);
    pub fn hfk_gen_params_init(p: *mut hfk_gen_params, caller_size: usize) -> hfk_status;
    pub fn hfk_gen_result_init(p: *mut hfk_gen_result, caller_size: usize) -> hfk_status;
    pub fn hfk_session_generate(
        session: *mut hfk_session,
        prompt: *const c_char,
        params: *const hfk_gen_params,
        on_piece: hfk_piece_cb,
        user_data: *mut c_void,
        text_out: *mut *mut c_char,
        result_out: *mut hfk_gen_result,
    ) -> hfk_status;
}
