//! Generates text with libhfkit from Rust, through the hand-written declarations in `ffi.rs`
//! and a small safe wrapper: handles are freed by `Drop`, failures become `Error` values that
//! carry the status code, its name and the library's message.
//!
//! Usage: hfkit-generate MODEL_DIR [PROMPT] [MAX_NEW_TOKENS]
//! Streams the text to stdout; exits 1 with "error: HFK_E_...: message" on failure.

mod ffi;

use std::ffi::{CStr, CString};
use std::fmt;
use std::io::Write;
use std::os::raw::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// A failed hfkit call.
#[derive(Debug)]
pub struct Error {
    pub status: i32,
    pub name: String,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

fn c_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Turns a status into a Result, reading the message at once (it is per thread and per call).
fn check(status: ffi::hfk_status) -> Result<(), Error> {
    if status == ffi::HFK_OK {
        return Ok(());
    }
    let message = c_str(unsafe { ffi::hfk_last_error_message() });
    let name = c_str(unsafe { ffi::hfk_status_name(status) });
    Err(Error { status, name, message })
}

pub struct Model(*mut ffi::hfk_model);

impl Model {
    pub fn load(dir: &str) -> Result<Model, Error> {
        let dir = CString::new(dir).map_err(|_| Error {
            status: -1,
            name: "HFK_E_INVALID_ARG".into(),
            message: "the path contains a NUL byte".into(),
        })?;
        let mut raw = ptr::null_mut();
        check(unsafe { ffi::hfk_model_load(&mut raw, dir.as_ptr(), ptr::null()) })?;
        Ok(Model(raw))
    }

    pub fn architecture(&self) -> String {
        c_str(unsafe { ffi::hfk_model_architecture(self.0) })
    }

    pub fn session(&self) -> Result<Session, Error> {
        let mut raw = ptr::null_mut();
        check(unsafe { ffi::hfk_session_create(&mut raw, self.0, ptr::null()) })?;
        Ok(Session(raw))
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { ffi::hfk_model_free(self.0) }
    }
}

pub struct Session(*mut ffi::hfk_session);

/// What the C callback gets as user_data: the Rust closure, and whether it panicked.
struct PieceSink<'a> {
    f: &'a mut dyn FnMut(&str),
    panicked: bool,
}

unsafe extern "C" fn on_piece(piece: *const c_char, len: usize, user_data: *mut c_void) -> i32 {
    let sink = &mut *(user_data as *mut PieceSink);
    let bytes = std::slice::from_raw_parts(piece as *const u8, len);
    let text = String::from_utf8_lossy(bytes);
    // A panic must not unwind through the C library: catch it and ask the library to stop.
    match catch_unwind(AssertUnwindSafe(|| (sink.f)(&text))) {
        Ok(()) => 0,
        Err(_) => {
            sink.panicked = true;
            1
        }
    }
}

impl Session {
    /// Generates a continuation of `prompt`, calling `f` with each piece; returns the whole
    /// text and the number of generated tokens.
    pub fn generate(
        &mut self,
        prompt: &str,
        max_new_tokens: i32,
        f: &mut dyn FnMut(&str),
    ) -> Result<(String, i32), Error> {
        let prompt = CString::new(prompt).map_err(|_| Error {
            status: -1,
            name: "HFK_E_INVALID_ARG".into(),
            message: "the prompt contains a NUL byte".into(),
        })?;
        let mut params = std::mem::MaybeUninit::<ffi::hfk_gen_params>::zeroed();
        let mut result = std::mem::MaybeUninit::<ffi::hfk_gen_result>::zeroed();
        unsafe {
            check(ffi::hfk_gen_params_init(
                params.as_mut_ptr(),
                std::mem::size_of::<ffi::hfk_gen_params>(),
            ))?;
            check(ffi::hfk_gen_result_init(
                result.as_mut_ptr(),
                std::mem::size_of::<ffi::hfk_gen_result>(),
            ))?;
        }
        let mut params = unsafe { params.assume_init() };
        let mut result = unsafe { result.assume_init() };
        params.max_new_tokens = max_new_tokens;
        let mut sink = PieceSink { f, panicked: false };
        let mut text: *mut c_char = ptr::null_mut();
        let status = unsafe {
            ffi::hfk_session_generate(
                self.0,
                prompt.as_ptr(),
                &params,
                Some(on_piece),
                &mut sink as *mut PieceSink as *mut c_void,
                &mut text,
                &mut result,
            )
        };
        let checked = check(status);
        let whole = c_str(text);
        unsafe { ffi::hfk_free(text as *mut c_void) };
        checked?;
        if sink.panicked {
            panic!("the piece callback panicked");
        }
        Ok((whole, result.n_generated_tokens))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        unsafe { ffi::hfk_session_free(self.0) }
    }
}

fn run(args: &[String]) -> Result<(), Error> {
    let abi = unsafe { ffi::hfk_abi_version() };
    if abi != ffi::HFK_ABI_VERSION {
        return Err(Error {
            status: -13,
            name: "ABI mismatch".into(),
            message: format!("libhfkit has ABI {abi}, this program was written for {}", ffi::HFK_ABI_VERSION),
        });
    }
    let model = Model::load(&args[1])?;
    eprintln!(
        "hfkit {} loaded a {} model",
        c_str(unsafe { ffi::hfk_version_string() }),
        model.architecture()
    );
    let mut session = model.session()?;
    drop(model); // the session keeps the model alive
    let prompt = args.get(2).map(String::as_str).unwrap_or("");
    let max_new_tokens = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(-1);
    let mut streamed = String::new();
    let mut stdout = std::io::stdout();
    let (text, n) = session.generate(prompt, max_new_tokens, &mut |piece| {
        streamed.push_str(piece);
        let _ = stdout.write_all(piece.as_bytes());
        let _ = stdout.flush();
    })?;
    assert_eq!(streamed, text, "the streamed pieces must join to the whole text");
    eprintln!("\n[{n} tokens]");
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 || args.len() > 4 {
        eprintln!("usage: {} MODEL_DIR [PROMPT] [MAX_NEW_TOKENS]", args[0]);
        std::process::exit(2);
    }
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(if e.status == ffi::HFK_E_NOT_FOUND { 3 } else { 1 });
    }
}
