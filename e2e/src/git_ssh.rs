//! An SSH Git server for tests: Debian's OpenSSH `sshd` on a free loopback port with a fresh
//! host key and a client key; repositories are addressed by absolute path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running sshd; killed when dropped.
pub struct SshServer {
    /// The port sshd listens on (127.0.0.1).
    pub port: u16,
    /// The user to connect as.
    pub user: String,
    /// A known_hosts line for this server.
    pub known_hosts: String,
    /// The client's private key (OpenSSH format).
    pub client_key: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SSHD: &str = "/usr/sbin/sshd";

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("ssh-keygen: {e}"));
    assert!(status.success(), "ssh-keygen failed");
}

impl SshServer {
    /// Whether sshd is installed (tests skip with a message otherwise).
    pub fn available() -> bool {
        Path::new(SSHD).exists()
    }

    /// Starts sshd.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = |name: &str| -> PathBuf { dir.path().join(name) };
        keygen(&p("host_key"));
        keygen(&p("client_key"));
        std::fs::copy(p("client_key.pub"), p("authorized_keys")).unwrap_or_else(|e| panic!("{e}"));
        let port = crate::ports::free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin yes\nStrictModes no\nUsePAM no\nAcceptEnv GIT_PROTOCOL\nLogLevel ERROR\n",
            p("host_key").display(),
            p("authorized_keys").display(),
            p("sshd.pid").display()
        );
        std::fs::write(p("sshd_config"), config).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(p("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start sshd: {e}"));
        crate::ports::wait_for_listener(port, Duration::from_secs(10), "sshd");
        let host_pub = std::fs::read_to_string(p("host_key.pub")).unwrap_or_else(|e| panic!("{e}"));
        let mut fields = host_pub.split_whitespace();
        let known_hosts = format!(
            "[127.0.0.1]:{port} {} {}\n",
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default()
        );
        let client_key = std::fs::read_to_string(p("client_key")).unwrap_or_else(|e| panic!("{e}"));
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                let out = Command::new("whoami")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
                out.unwrap_or_else(|_| "root".into())
            });
        Self {
            port,
            user,
            known_hosts,
            client_key,
            child,
            _dir: dir,
        }
    }

    /// The ssh:// URL of a bare repository.
    pub fn url(&self, bare: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            bare.display()
        )
    }
}
