//! Loopback ports for the test servers: a free one to hand to a child process and a wait until
//! the child listens on it, or (race-free) a child that binds port 0 and prints the port.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Waits (up to `timeout`) until something listens on `127.0.0.1:port`; panics naming `what`.
pub fn wait_for_listener(port: u16, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Spawns a server that binds port 0 itself and prints the port it got as its first line of
/// output (no window in which another process can take a port picked for it).
pub fn spawn_on_any_port(command: &mut Command, what: &str) -> (Child, u16) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let stdout = child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("{what}: no stdout"));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{what} did not report its port (got {line:?})"));
    (child, port)
}
