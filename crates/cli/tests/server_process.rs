//! `cao server` as a process others share a machine with: one server per data directory and per
//! tmux socket, `cao shutdown --server` signalling only that server, the refusals and warning
//! of a non-loopback address, connection timeouts, and the tmux server left behind on exit.
//! Real `cao` processes on free 127.0.0.1 ports, private tmux sockets and data directories.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A private tmux socket; on drop every server started on it is killed, and the tmux server,
/// its socket and cao's lock beside it are removed.
struct Machine {
    socket: String,
    servers: Vec<Child>,
}

impl Machine {
    fn new(label: &str) -> Machine {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        Machine {
            socket: format!(
                "cao-sp-{label}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ),
            servers: Vec::new(),
        }
    }

    fn socket_path(&self) -> PathBuf {
        cao_tmux::Socket::named(&self.socket).path()
    }

    /// `cao ARGS` with this socket and `home` as the data directory.
    fn cao(&self, home: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cao"));
        command
            .args(args)
            .env("CAO_HOME_DIR", home)
            .env("CAO_TMUX_SOCKET", &self.socket)
            .env("CAO_API_HOST", "127.0.0.1")
            .env_remove("CAO_API_PORT")
            .env_remove("CAO_ALLOWED_HOSTS")
            .env_remove("TMUX")
            .stdin(Stdio::null());
        command
    }

    /// Starts `cao server --port PORT EXTRA…` and waits until `/health` answers.
    fn start_server(&mut self, home: &Path, port: u16, extra: &[&str]) -> u32 {
        let port_text = port.to_string();
        let mut args = vec!["server", "--port", &port_text];
        args.extend_from_slice(extra);
        let child = self
            .cao(home, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        self.servers.push(child);
        let deadline = Instant::now() + DEADLINE;
        loop {
            if health(port) {
                return pid;
            }
            let child = self.servers.last_mut().unwrap();
            if let Ok(Some(status)) = child.try_wait() {
                panic!("cao server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "cao server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs `cao server ARGS` expecting it to exit by itself; kills it at the deadline.
    fn refused_server(&self, home: &Path, args: &[&str]) -> Output {
        let mut child = self
            .cao(home, &["server"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + DEADLINE;
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                panic!(
                    "a server that should have been refused kept running: {}",
                    text(&output.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().unwrap()
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
        let socket = self.socket_path();
        let _ = std::fs::remove_file(&socket);
        let mut lock = socket.into_os_string();
        lock.push(".cao.lock");
        let _ = std::fs::remove_file(lock);
    }
}

/// True when `GET /health` on 127.0.0.1:`port` answers 200.
fn health(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the pid exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

/// Waits (up to the deadline) until the process is gone.
fn wait_gone(child: &mut Child) {
    let deadline = Instant::now() + DEADLINE;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "pid {} did not exit", child.id());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The start time of a process in clock ticks after boot (field 22 of /proc/PID/stat).
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(19).unwrap().parse().unwrap()
}

fn one_line(output: &Output) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    stderr.trim_end().to_string()
}

#[test]
fn a_second_server_on_the_same_data_directory_or_tmux_socket_is_refused() {
    let mut machine = Machine::new("two");
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let first = machine.start_server(home.path(), port, &[]);
    let pid_file = home.path().join("server.pid");
    let recorded = std::fs::read_to_string(&pid_file).unwrap();
    let first_url = format!("http://127.0.0.1:{port}");

    // The same data directory (and socket), another port.
    let second_port = free_port();
    let output = machine.refused_server(home.path(), &["--port", &second_port.to_string()]);
    assert!(!output.status.success());
    let line = one_line(&output);
    assert!(
        line.contains(&format!("another cao server (pid {first}, {first_url})")),
        "{line}"
    );
    assert!(line.contains(&home.path().display().to_string()), "{line}");
    assert!(line.contains("cao shutdown --server"), "{line}");
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), recorded);
    assert!(!health(second_port));

    // Another data directory on the same tmux socket.
    let other_home = tempfile::tempdir().unwrap();
    let output = machine.refused_server(other_home.path(), &["--port", &free_port().to_string()]);
    assert!(!output.status.success());
    let line = one_line(&output);
    assert!(
        line.contains(&format!("another cao server (pid {first}, {first_url}")),
        "{line}"
    );
    assert!(line.contains(&machine.socket), "{line}");
    assert!(!other_home.path().join("server.pid").exists());

    // The first server is untouched and stops cleanly, taking its pid file with it.
    assert!(health(port));
    let stop = machine
        .cao(home.path(), &["shutdown", "--server"])
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    assert!(text(&stop.stdout).contains(&format!("stopped the server (pid {first})")));
    wait_gone(machine.servers.first_mut().unwrap());
    assert!(!pid_file.exists());
}

#[test]
fn shutdown_never_signals_a_process_a_stale_pid_file_names() {
    let machine = Machine::new("stale");
    let home = tempfile::tempdir().unwrap();
    let pid_file = home.path().join("server.pid");
    let mut bystander = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = bystander.id();
    // The plain pid older servers wrote, then a record whose start time even matches.
    let records = [
        format!("{pid}\n"),
        format!(
            "{{\"pid\":{pid},\"start_time\":{},\"host\":\"127.0.0.1\",\"port\":9}}\n",
            start_time(pid)
        ),
    ];
    for record in records {
        std::fs::write(&pid_file, &record).unwrap();
        let output = machine
            .cao(home.path(), &["shutdown", "--server"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert_eq!(
            text(&output.stdout),
            format!("no server running (stale server.pid for pid {pid} removed)\n")
        );
        assert!(bystander.try_wait().unwrap().is_none(), "{record}");
        assert!(alive(pid));
        assert!(!pid_file.exists());
    }
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[test]
fn a_non_loopback_address_needs_auth_and_allowed_hosts_and_is_refused_before_binding() {
    let machine = Machine::new("expose");
    let parent = tempfile::tempdir().unwrap();
    let home = parent.path().join("home");
    let port = free_port();
    let port_text = port.to_string();

    let output = machine.refused_server(
        &home,
        &["--host", "0.0.0.0", "--no-auth", "--port", &port_text],
    );
    assert!(!output.status.success());
    let line = one_line(&output);
    assert!(
        line.contains("--no-auth") && line.contains("0.0.0.0"),
        "{line}"
    );

    let output = machine.refused_server(&home, &["--host", "0.0.0.0", "--port", &port_text]);
    assert!(!output.status.success());
    let line = one_line(&output);
    assert!(line.contains("--allow-host"), "{line}");
    assert!(line.contains("CAO_ALLOWED_HOSTS"), "{line}");

    let output = machine.refused_server(
        &home,
        &[
            "--host",
            "0.0.0.0",
            "--allow-host",
            "box.example:9889",
            "--port",
            &port_text,
        ],
    );
    assert!(!output.status.success());
    assert!(one_line(&output).contains("box.example:9889"));

    // Nothing was created and nothing is listening.
    assert!(!home.exists());
    assert!(!machine.socket_path().exists());
    drop(TcpListener::bind(("127.0.0.1", port)).unwrap());
}

#[test]
fn a_non_loopback_address_with_allowed_hosts_is_announced_loudly() {
    let machine = Machine::new("warn");
    let parent = tempfile::tempdir().unwrap();
    // A data directory that cannot be created stops the server after the checks and before
    // it binds, so no test binds a non-loopback address.
    let home = parent.path().join("not-a-directory");
    std::fs::write(&home, "").unwrap();
    let output = machine.refused_server(
        &home,
        &[
            "--host",
            "0.0.0.0",
            "--allow-host",
            "box.example",
            "--port",
            &free_port().to_string(),
        ],
    );
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    let warning = stderr
        .lines()
        .find(|line| line.starts_with("WARNING"))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    assert!(warning.contains("0.0.0.0"), "{warning}");
    assert!(warning.contains("other machines"), "{warning}");
    assert!(warning.contains("docs/security.md"), "{warning}");
}

/// Reads until the server closes the connection; false when it is still open at the deadline.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(error) if error.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn half_sent_requests_and_idle_connections_are_closed_but_streams_are_not() {
    let mut machine = Machine::new("timeouts");
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    machine.start_server(
        home.path(),
        port,
        &["--header-read-timeout", "1", "--idle-timeout", "2"],
    );
    let token = std::fs::read_to_string(home.path().join("server.token")).unwrap();

    // An event stream opened first outlives the idle connection opened after it.
    let mut events = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\r\n",
        token.trim()
    );
    events.write_all(request.as_bytes()).unwrap();
    events.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut head = [0u8; 512];
    let read = events.read(&mut head).unwrap();
    assert!(text(&head[..read]).starts_with("HTTP/1.1 200"));

    let mut half = TcpStream::connect(("127.0.0.1", port)).unwrap();
    half.write_all(b"GET /health HT").unwrap();
    assert!(
        closed_by_server(&mut half),
        "a half request line stays open"
    );

    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(closed_by_server(&mut idle), "an idle connection stays open");

    // The stream is still open: reading finds no end of stream.
    events.set_nonblocking(true).unwrap();
    match events.read(&mut head) {
        Ok(0) => panic!("the event stream was closed"),
        Ok(_) => {}
        Err(error) => assert_eq!(error.kind(), ErrorKind::WouldBlock, "{error}"),
    }
    assert!(health(port));
}

#[test]
fn stopping_the_server_stops_cao_tmux_server_unless_agents_remain() {
    for keep_a_session in [false, true] {
        let mut machine = Machine::new("tmux");
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        machine.start_server(home.path(), port, &[]);
        let port = port.to_string();
        // An agent starts cao's tmux server; its session is then deleted.
        let launch = machine
            .cao(
                home.path(),
                &["launch", "--agents", "developer", "--provider", "mock"],
            )
            .args(["--session-name", "t1", "--headless", "hello"])
            .env("CAO_API_PORT", &port)
            .output()
            .unwrap();
        assert!(launch.status.success(), "{}", text(&launch.stderr));
        if keep_a_session {
            let created = machine.tmux(&["new-session", "-d", "-s", "keep"]);
            assert!(created.status.success(), "{created:?}");
        }
        let stop = machine
            .cao(home.path(), &["shutdown", "--all", "--server"])
            .env("CAO_API_PORT", &port)
            .output()
            .unwrap();
        assert!(stop.status.success(), "{}", text(&stop.stderr));
        wait_gone(machine.servers.first_mut().unwrap());
        let after = machine.tmux(&["list-sessions", "-F", "#{session_name}"]);
        if keep_a_session {
            assert!(after.status.success(), "{after:?}");
            assert!(text(&after.stdout).contains("keep"));
        } else {
            assert!(!after.status.success(), "tmux still runs: {after:?}");
        }
    }
}
