//! The in-process runner the tool tests share: calls a tool's entry point
//! with arguments and captures its exit code, stdout and stderr.

use std::ffi::OsString;

use strait_cli::invocation::Console;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(tool: fn(Vec<OsString>, &mut Console<'_>) -> i32, args: &[&str]) -> Run {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let args: Vec<OsString> = std::iter::once("tool")
        .chain(args.iter().copied())
        .map(OsString::from)
        .collect();
    let code = {
        let mut console = Console {
            out: &mut out,
            err: &mut err,
        };
        tool(args, &mut console)
    };
    Run {
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
}
