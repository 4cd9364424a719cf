//! Peer programs (node, python, the workspace's own binaries) run to completion within a
//! time limit, with their output captured.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs `command` with `stdin` written to its standard input (none: `/dev/null`), captures
/// stdout and stderr, and waits at most `limit`: a program still running then is killed and
/// the test fails.
///
/// Blocking. From a multi-threaded tokio test, call it in `tokio::task::block_in_place`.
pub fn output_within(command: &mut Command, stdin: Option<&[u8]>, limit: Duration) -> Output {
    let program = format!("{command:?}");
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let writer = child.stdin.take().map(|mut pipe| {
        let input = stdin.unwrap_or_default().to_vec();
        // A program that exits without reading its input closes the pipe: not an error here.
        std::thread::spawn(move || drop(pipe.write_all(&input)))
    });
    let stdout = read_to_end(child.stdout.take().unwrap());
    let stderr = read_to_end(child.stderr.take().unwrap());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(writer) = writer {
        writer.join().unwrap();
    }
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn read_to_end(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).unwrap();
        bytes
    })
}

/// Runs `command` (as [`output_within`], no input) and returns its stdout lines parsed as
/// JSON, blank lines skipped. Fails the test if the program fails or prints a line that is
/// not JSON.
pub fn json_lines_within(command: &mut Command, limit: Duration) -> Vec<Value> {
    let output = output_within(command, None, limit);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<Value> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("bad output line {l:?}: {e}\nstderr: {stderr}"))
        })
        .collect();
    assert!(
        output.status.success(),
        "{command:?} failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_feeds_stdin() {
        let out = output_within(
            Command::new("sh").args(["-c", "read x; echo \"got $x\"; echo err >&2"]),
            Some(b"hello\n"),
            Duration::from_secs(10),
        );
        assert!(out.status.success());
        assert_eq!(out.stdout, b"got hello\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    #[should_panic(expected = "did not finish within")]
    fn a_program_over_its_limit_is_killed() {
        output_within(
            Command::new("sleep").arg("30"),
            None,
            Duration::from_millis(200),
        );
    }

    #[test]
    fn json_lines_skip_blank_lines() {
        let lines = json_lines_within(
            Command::new("sh").args(["-c", "echo '{\"a\":1}'; echo; echo '[2]'"]),
            Duration::from_secs(10),
        );
        assert_eq!(
            lines,
            vec![serde_json::json!({"a": 1}), serde_json::json!([2])]
        );
    }

    #[test]
    #[should_panic(expected = "failed")]
    fn a_failing_program_fails_the_test() {
        json_lines_within(
            Command::new("sh").args(["-c", "exit 3"]),
            Duration::from_secs(10),
        );
    }
}
