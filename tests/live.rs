//! Live capture on loopback, against real servers and clients: `tlsdiag live` and a tcpdump
//! recording of the same traffic must give the same verdicts, the kernel must drop nothing,
//! and every failure's saved pcap must read back (in tlsdiag and in tshark) with its verdict.
//! The --html page is rewritten while the capture runs, and counts at its end what the
//! summary counts.
//!
//! Needs the `live` feature, root (or CAP_NET_RAW), tcpdump, openssl and gnutls-bin; it says
//! SKIPPED and passes where one is missing, unless TLSDIAG_REQUIRE_LIVE=1 (set in CI).
//! TLSDIAG_LIVE_ROUNDS sets how many rounds of handshakes to drive (default 10 rounds of 10
//! connections: successes by OpenSSL and GnuTLS clients, and four failure classes).

#[cfg(not(feature = "live"))]
#[test]
fn live_capture_needs_the_live_feature() {
    assert!(
        std::env::var_os("TLSDIAG_REQUIRE_LIVE").is_none(),
        "TLSDIAG_REQUIRE_LIVE is set but the tests were built without --features live"
    );
    eprintln!("SKIPPED: built without the live feature (cargo test --features live)");
}

#[cfg(feature = "live")]
mod live {
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::net::TcpStream;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    const OPENSSL_PORT: u16 = 44301;
    const GNUTLS_PORT: u16 = 44302;
    const CLOSED_PORT: u16 = 44309;
    const FILTER: &str = "tcp portrange 44300-44309";

    fn have(tool: &str) -> bool {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Why the test cannot run here, if it cannot.
    fn missing() -> Option<String> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !root {
            return Some("not root".into());
        }
        ["tcpdump", "openssl", "gnutls-serv", "gnutls-cli", "tshark"]
            .into_iter()
            .find(|t| !have(t))
            .map(|t| format!("{t} is not installed"))
    }

    /// Kills its process when dropped, so that a failing test leaves no server behind.
    struct Running(Child);

    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn spawn(cmd: &mut Command) -> Running {
        Running(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawns"),
        )
    }

    fn signal(child: &Child, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn wait_for_port(port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nothing listens on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn openssl(dir: &Path, args: &[&str]) {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    }

    /// A self-signed certificate for server.test, and an unrelated one the clients that must
    /// reject the server trust instead.
    fn certificates(dir: &Path) {
        for name in ["server", "other"] {
            let subject = format!("/CN={}.test", name);
            openssl(
                dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    &subject,
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.pem"),
                    "-addext",
                    "subjectAltName=DNS:server.test",
                ],
            );
        }
    }

    /// One client run to its end, whatever it says: failing is what some of them are for.
    fn client(dir: &Path, program: &str, args: &[&str]) {
        let _ = Command::new("timeout")
            .arg("5")
            .arg(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Ten connections: five successes (OpenSSL TLS 1.3 and 1.2, GnuTLS), then no shared
    /// cipher, an old protocol refused, the server's certificate rejected, a refused port,
    /// and one more success.
    fn round(dir: &Path) {
        let ossl = format!("127.0.0.1:{OPENSSL_PORT}");
        let gnutls = GNUTLS_PORT.to_string();
        let closed = format!("127.0.0.1:{CLOSED_PORT}");
        let sni = ["-servername", "server.test"];
        let trust = ["-CAfile", "server.pem", "-verify_return_error"];
        let s_client = |extra: &[&str]| {
            let mut args = vec!["s_client", "-connect", &ossl];
            args.extend_from_slice(extra);
            client(dir, "openssl", &args);
        };
        s_client(&[&sni[..], &trust[..]].concat());
        s_client(&[&sni[..], &trust[..], &["-tls1_2"]].concat());
        client(
            dir,
            "gnutls-cli",
            &[
                "--x509cafile",
                "server.pem",
                "--sni-hostname",
                "server.test",
                "--verify-hostname",
                "server.test",
                "-p",
                &gnutls,
                "127.0.0.1",
            ],
        );
        client(
            dir,
            "gnutls-cli",
            &["--insecure", "-p", &gnutls, "127.0.0.1"],
        );
        s_client(
            &[
                &sni[..],
                &["-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256"],
            ]
            .concat(),
        );
        s_client(&[&sni[..], &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]].concat());
        s_client(&[&sni[..], &["-CAfile", "other.pem", "-verify_return_error"]].concat());
        client(dir, "openssl", &["s_client", "-connect", &closed]);
        s_client(&[&sni[..], &trust[..]].concat());
        s_client(&sni);
    }

    fn ndjson(text: &str) -> (Vec<Value>, Value) {
        let mut conns = Vec::new();
        let mut summary = Value::Null;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).expect("one JSON object per line");
            match v.get("summary") {
                Some(s) => summary = s.clone(),
                None => conns.push(v),
            }
        }
        (conns, summary)
    }

    /// What both must say of a connection, keyed by its client port, server port and first
    /// frame: the kernel may give two connections to different servers the same client port
    /// (it did once in CI, and a map by client port alone counted 99 of the 100). `ended_by`
    /// of an established connection is who closed it: unknown when live reports it on
    /// establishing.
    fn verdicts(conns: &[Value]) -> BTreeMap<(u64, u64, u64), String> {
        conns
            .iter()
            .map(|c| {
                let ended_by = if c["outcome"] == "established" {
                    Value::Null
                } else {
                    c["ended_by"].clone()
                };
                let port = |end: &str| c[end]["port"].as_u64().expect("a port");
                let first = c["first_frame"].as_u64().expect("a first frame");
                let key = (port("client"), port("server"), first);
                let v = format!(
                    "{} {} {} {} frame {} sni {} {} {}",
                    c["outcome"],
                    c["diagnosis"]["code"],
                    c["stage"],
                    ended_by,
                    c["frame"],
                    c["sni"],
                    c["version"],
                    c["cipher"]
                );
                (key, v)
            })
            .collect()
    }

    /// `tlsdiag analyze` of a file, as NDJSON connections.
    fn analyze(path: &Path) -> Vec<Value> {
        let port = CLOSED_PORT.to_string();
        let o = tlsdiag()
            .args(["analyze", "--format", "ndjson", "--port", &port])
            .arg(path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{} reads back", path.display());
        ndjson(&String::from_utf8_lossy(&o.stdout)).0
    }

    /// `tlsdiag live -i lo -f FILTER --keylog KEYS` as `cmd` starts the binary (perhaps in
    /// a network namespace), its NDJSON to `out`; capturing once this returns.
    fn live_with_keylog(mut cmd: Command, filter: &str, keys: &Path, out: &Path) -> Running {
        let out = std::fs::File::create(out).unwrap();
        let live = Running(
            cmd.args(["live", "-i", "lo", "-f", filter, "--format", "ndjson"])
                .args(["--duration", "120s", "--keylog"])
                .arg(keys)
                .stdout(out)
                .stderr(Stdio::null())
                .spawn()
                .expect("tlsdiag live runs"),
        );
        std::thread::sleep(Duration::from_secs(2));
        live
    }

    /// Stops a live run as Ctrl-C would: the connections it reported, and its summary.
    fn stop_live(live: Running, out: &Path) -> (Vec<Value>, Value) {
        signal(&live.0, "TERM");
        let mut live = live;
        assert!(live.0.wait().unwrap().success(), "tlsdiag live exits 0");
        ndjson(&std::fs::read_to_string(out).unwrap())
    }

    /// Whether a test cannot run here, said on stderr; with TLSDIAG_REQUIRE_LIVE (CI) it
    /// must run.
    fn cannot_run(test: &str, why: Option<String>) -> bool {
        let Some(why) = why else {
            return false;
        };
        assert!(
            std::env::var_os("TLSDIAG_REQUIRE_LIVE").is_none(),
            "TLSDIAG_REQUIRE_LIVE is set but {why}"
        );
        eprintln!("SKIPPED: {test}: {why}");
        true
    }

    fn tlsdiag() -> Command {
        Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
    }

    /// Unprivileged, unknown interface: each error says what to do.
    #[test]
    fn errors_name_what_is_needed() {
        if let Some(why) = missing() {
            eprintln!("SKIPPED: live capture errors: {why}");
            return;
        }
        let unknown = tlsdiag()
            .args(["live", "-i", "no-such-if0"])
            .output()
            .unwrap();
        assert_eq!(unknown.status.code(), Some(1));
        let err = String::from_utf8_lossy(&unknown.stderr);
        assert!(err.contains("no interface named no-such-if0"), "{err}");
        assert!(err.contains("lo"), "the known interfaces are listed: {err}");
        let bad_filter = tlsdiag()
            .args(["live", "-i", "lo", "-f", "tcp port"])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&bad_filter.stderr).contains("does not compile"));
        if !have("setpriv") {
            eprintln!("SKIPPED: the unprivileged case needs setpriv");
            return;
        }
        // A copy nobody can run, run as nobody without capabilities.
        let copy = PathBuf::from("/tmp/tlsdiag-live-test-unprivileged");
        std::fs::copy(env!("CARGO_BIN_EXE_tlsdiag"), &copy).unwrap();
        let o = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(&copy)
            .args(["live", "-i", "lo"])
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&copy);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("CAP_NET_RAW and CAP_NET_ADMIN"), "{err}");
        assert!(
            err.contains("setcap cap_net_raw,cap_net_admin=eip"),
            "{err}"
        );
    }

    /// The --html page written when the capture stopped counts what the summary counts.
    fn assert_page_counts(page: &Path, summary: &Value) {
        let html = std::fs::read_to_string(page).expect("the page");
        let connections = summary["connections"].as_u64().unwrap_or(0);
        assert!(html.contains(&format!("data-connections=\"{connections}\"")));
        for (outcome, n) in summary["outcomes"].as_object().expect("outcomes") {
            let card = format!("data-outcome=\"{outcome}\" data-count=\"{n}\"");
            assert!(html.contains(&card), "{card} not on the page");
        }
        assert_eq!(
            html.matches("<tbody class=\"conn ").count() as u64,
            connections
        );
    }

    #[test]
    fn live_verdicts_equal_those_of_a_recording_and_failures_are_saved() {
        if cannot_run("live capture test", missing()) {
            return;
        }
        let rounds: usize = std::env::var("TLSDIAG_LIVE_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(10);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-test");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("failed")).unwrap();
        certificates(&dir);

        let _ossl = spawn(Command::new("openssl").current_dir(&dir).args([
            "s_server",
            "-accept",
            &OPENSSL_PORT.to_string(),
            "-cert",
            "server.pem",
            "-key",
            "server.key",
            "-min_protocol",
            "TLSv1.2",
            "-naccept",
            "100000",
            "-quiet",
        ]));
        let _gnutls = spawn(Command::new("gnutls-serv").current_dir(&dir).args([
            "-p",
            &GNUTLS_PORT.to_string(),
            "--x509certfile",
            "server.pem",
            "--x509keyfile",
            "server.key",
        ]));
        wait_for_port(OPENSSL_PORT);
        wait_for_port(GNUTLS_PORT);
        // The readiness probes above are not part of the comparison: capture starts now.
        let recording = dir.join("recording.pcap");
        let tcpdump = spawn(
            Command::new("tcpdump")
                .args([
                    "-i",
                    "lo",
                    "-U",
                    "--immediate-mode",
                    "-s",
                    "0",
                    "-B",
                    "16384",
                    "-w",
                ])
                .arg(&recording)
                .arg(FILTER),
        );
        let live_out = std::fs::File::create(dir.join("live.ndjson")).unwrap();
        let page = dir.join("live.html");
        let live = Running(
            tlsdiag()
                .args([
                    "live",
                    "-i",
                    "lo",
                    "-f",
                    FILTER,
                    "--format",
                    "ndjson",
                    "--duration",
                    "300s",
                ])
                .args(["--port", &CLOSED_PORT.to_string(), "--save-failures"])
                .arg(dir.join("failed"))
                .args(["--html-every", "1s", "--html"])
                .arg(&page)
                .stdout(live_out)
                .stderr(Stdio::null())
                .spawn()
                .expect("tlsdiag live runs"),
        );
        // The same traffic through the `any` device: Linux cooked headers (SLL v1 with
        // ARPHRD loopback on older libpcap, SLL2 on newer), which must change no verdict.
        let any_out = std::fs::File::create(dir.join("live-any.ndjson")).unwrap();
        let any = Running(
            tlsdiag()
                .args(["live", "-i", "any", "-f", FILTER, "--format", "ndjson"])
                .args(["--duration", "300s", "--port", &CLOSED_PORT.to_string()])
                .stdout(any_out)
                .stderr(Stdio::null())
                .spawn()
                .expect("tlsdiag live -i any runs"),
        );
        std::thread::sleep(Duration::from_secs(2));
        for _ in 0..rounds {
            round(&dir);
        }
        std::thread::sleep(Duration::from_secs(2));
        // --html rewrites its page while the capture runs.
        let running = std::fs::read_to_string(&page).expect("the page is written while running");
        assert!(
            running.contains("<tbody class=\"conn "),
            "connections on the page"
        );
        // Ctrl-C's path: SIGTERM ends the capture with the summary.
        signal(&any.0, "TERM");
        signal(&live.0, "TERM");
        signal(&tcpdump.0, "INT");
        let mut live = live;
        let status = live.0.wait().unwrap();
        assert!(status.success(), "tlsdiag live exits 0 on SIGTERM");
        let mut tcpdump = tcpdump;
        let _ = tcpdump.0.wait();

        let (live_conns, summary) =
            ndjson(&std::fs::read_to_string(dir.join("live.ndjson")).unwrap());
        assert!(
            summary["capture"]["received"].as_u64().unwrap_or(0) > 0,
            "the summary carries libpcap's counts: {summary}"
        );
        assert_eq!(summary["capture"]["dropped_by_kernel"], 0, "{summary}");
        assert_page_counts(&page, &summary);
        let file_conns = analyze(&recording);
        let (live_v, file_v) = (verdicts(&live_conns), verdicts(&file_conns));
        assert_eq!(live_v.len(), rounds * 10, "every connection reported live");
        assert_eq!(live_v, file_v);
        let mut any = any;
        assert!(
            any.0.wait().unwrap().success(),
            "tlsdiag live -i any exits 0"
        );
        let (any_conns, any_summary) =
            ndjson(&std::fs::read_to_string(dir.join("live-any.ndjson")).unwrap());
        assert_eq!(
            any_summary["capture"]["dropped_by_kernel"], 0,
            "{any_summary}"
        );
        assert_eq!(verdicts(&any_conns), live_v, "-i any and -i lo agree");

        let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
        for c in live_conns.iter().filter(|c| c["outcome"] == "failed") {
            let code = c["diagnosis"]["code"].as_str().unwrap().to_string();
            *by_code.entry(code.clone()).or_default() += 1;
            let saved = c["saved_packets"]
                .as_str()
                .unwrap_or_else(|| panic!("saved: {c}"));
            let again = analyze(Path::new(saved));
            assert_eq!(again.len(), 1, "{saved}");
            assert_eq!(
                again[0]["diagnosis"]["code"], c["diagnosis"]["code"],
                "{saved}"
            );
            let tshark = Command::new("tshark")
                .args(["-r", saved, "-T", "fields", "-e", "frame.number"])
                .output()
                .unwrap();
            assert!(tshark.status.success(), "tshark reads {saved}");
            assert!(
                String::from_utf8_lossy(&tshark.stdout).lines().count() >= 2,
                "{saved}"
            );
        }
        let expected = [
            "certificate_rejected",
            "no_shared_cipher",
            "protocol_version",
            "tcp_refused",
        ];
        for code in expected {
            assert_eq!(by_code.get(code), Some(&rounds), "{code} in {by_code:?}");
        }
        let saved = std::fs::read_dir(dir.join("failed")).unwrap().count();
        assert_eq!(saved, rounds * expected.len());
    }

    /// `live --keylog`: the key log file does not exist when the capture starts; OpenSSL's
    /// s_client creates it and appends each connection's secrets as it runs. Every
    /// connection is decrypted, the rejected certificates are certain from the decrypted
    /// alerts, and the report is the one `analyze --keylog` makes of a recording of the same
    /// traffic with the finished file.
    #[test]
    fn live_follows_the_key_log_clients_write() {
        if cannot_run("live key log test", missing()) {
            return;
        }
        // Outside the other test's filter, which runs at the same time.
        const PORT: u16 = 44320;
        let filter = format!("tcp port {PORT}");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-keylog");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        certificates(&dir);
        let keys = dir.join("keys.log");
        let _server = spawn(Command::new("openssl").current_dir(&dir).args([
            "s_server",
            "-accept",
            &PORT.to_string(),
            "-cert",
            "server.pem",
            "-key",
            "server.key",
            "-naccept",
            "1000",
            "-quiet",
        ]));
        wait_for_port(PORT);
        let recording = dir.join("recording.pcap");
        let tcpdump = spawn(
            Command::new("tcpdump")
                .args(["-i", "lo", "-U", "--immediate-mode", "-s", "0", "-w"])
                .arg(&recording)
                .arg(&filter),
        );
        let out = dir.join("live.ndjson");
        let live = live_with_keylog(tlsdiag(), &filter, &keys, &out);
        assert!(!keys.exists(), "the key log is made by the clients");
        let connect = format!("127.0.0.1:{PORT}");
        let base = [
            "s_client",
            "-connect",
            &connect,
            "-servername",
            "server.test",
            "-keylogfile",
            "keys.log",
            "-verify_return_error",
        ];
        let cases: [&[&str]; 4] = [
            &["-tls1_3", "-CAfile", "server.pem"],
            &["-tls1_3", "-CAfile", "other.pem"],
            &["-tls1_2", "-CAfile", "server.pem"],
            &["-tls1_2", "-CAfile", "other.pem"],
        ];
        for case in cases {
            client(&dir, "openssl", &[&base[..], case].concat());
        }
        std::thread::sleep(Duration::from_secs(3));
        let (conns, summary) = stop_live(live, &out);
        signal(&tcpdump.0, "INT");
        let mut tcpdump = tcpdump;
        let _ = tcpdump.0.wait();

        assert_eq!(conns.len(), cases.len(), "{conns:?}");
        // A TLS 1.2 client that rejects the certificate does so before the key exchange: no
        // master secret exists, its alert is in clear.
        assert_eq!(summary["keylog"]["decrypted"], 3, "{summary}");
        assert_eq!(summary["keylog"]["no_keys"], 1, "{summary}");
        assert_eq!(summary["keylog"]["client_randoms"], 3, "{summary}");
        let mut rejected = 0;
        for c in &conns {
            let failed = c["outcome"] == "failed";
            let tls12_rejected = failed && c["version"] == "TLSv1.2";
            let expected = if tls12_rejected { "no_keys" } else { "ok" };
            assert_eq!(c["decryption"], expected, "{c}");
            if failed {
                rejected += 1;
                assert_eq!(c["diagnosis"]["code"], "certificate_rejected", "{c}");
                assert_eq!(c["diagnosis"]["confidence"], "certain", "{c}");
                let alert = &c["alerts"][0];
                assert_eq!(alert["description"], "unknown_ca", "{c}");
            }
            // In TLS 1.3 the certificate is read only by decrypting.
            let chain = c["certificates"].as_array().map_or(0, Vec::len);
            assert_eq!(chain, 1, "{c}");
        }
        assert_eq!(rejected, 2);
        let o = tlsdiag()
            .args(["analyze", "--format", "ndjson", "--keylog"])
            .arg(&keys)
            .arg(&recording)
            .output()
            .unwrap();
        assert!(o.status.success());
        let (file_conns, _) = ndjson(&String::from_utf8_lossy(&o.stdout));
        let decrypted = |list: &[Value]| -> Vec<String> {
            list.iter()
                .map(|c| {
                    let alerts: Vec<String> = c["alerts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| format!("{} {} {}", a["frame"], a["description"], a["encrypted"]))
                        .collect();
                    format!(
                        "{} {} {} {} {alerts:?} {}",
                        c["client"]["port"],
                        c["decryption"],
                        c["outcome"],
                        c["diagnosis"]["code"],
                        c["certificates"].as_array().map_or(0, Vec::len)
                    )
                })
                .collect()
        };
        // Live reports in the order connections are judged: one that waited for its keys
        // comes after those that did not.
        let (mut live, mut file) = (decrypted(&conns), decrypted(&file_conns));
        live.sort();
        file.sort();
        assert_eq!(live, file);
    }

    /// Chromium writes its key log from another thread, so its lines may come after the
    /// records they open: in a network namespace of its own (nothing it tries leaves the
    /// machine), `live --keylog` waits for them and decrypts Chromium's connections, its
    /// encrypted alert rejecting an unknown CA included.
    #[test]
    fn live_waits_for_chromiums_key_log() {
        let why = missing().or_else(|| (!have("chromium")).then(|| "no chromium".into()));
        if cannot_run("live Chromium key log test", why) {
            return;
        }
        const NS: &str = "tlsdiag-live-keylog";
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live-chromium");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        certificates(&dir);
        let ip = |args: &[&str]| {
            let _ = Command::new("ip").args(args).stderr(Stdio::null()).status();
        };
        ip(&["netns", "del", NS]);
        ip(&["netns", "add", NS]);
        ip(&["-n", NS, "link", "set", "lo", "up"]);
        struct Namespace;
        impl Drop for Namespace {
            fn drop(&mut self) {
                let _ = Command::new("ip").args(["netns", "del", NS]).status();
            }
        }
        let _ns = Namespace;
        let in_ns = |program: &str| {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", NS, program]).current_dir(&dir);
            cmd
        };
        let _server = spawn(in_ns("openssl").args([
            "s_server",
            "-accept",
            "443",
            "-quiet",
            "-www",
            "-cert",
            "server.pem",
            "-key",
            "server.key",
        ]));
        let keys = dir.join("chromium.keys");
        let out = dir.join("live.ndjson");
        let live = live_with_keylog(
            in_ns(env!("CARGO_BIN_EXE_tlsdiag")),
            "tcp port 443",
            &keys,
            &out,
        );
        for trust in [true, false] {
            let profile = dir.join(format!("profile-{trust}"));
            let mut chromium = in_ns("timeout");
            chromium
                .args([
                    "30",
                    "chromium",
                    "--headless",
                    "--no-sandbox",
                    "--no-first-run",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg("--disable-background-networking")
                .arg(format!("--ssl-key-log-file={}", keys.display()))
                .arg("--host-resolver-rules=MAP server.test 127.0.0.1");
            if trust {
                chromium.arg("--ignore-certificate-errors");
            }
            let _ = chromium
                .args(["--dump-dom", "https://server.test/"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        std::thread::sleep(Duration::from_secs(3));
        let (conns, summary) = stop_live(live, &out);
        let tls: Vec<&Value> = conns.iter().filter(|c| c["version"].is_string()).collect();
        assert!(tls.len() >= 2, "{conns:?}");
        for c in &tls {
            assert_eq!(c["decryption"], "ok", "{c}");
        }
        // Chromium tries the server it cannot trust more than once.
        let rejected: Vec<&&Value> = tls.iter().filter(|c| c["outcome"] == "failed").collect();
        assert!(!rejected.is_empty(), "{summary}");
        for c in rejected {
            assert_eq!(c["diagnosis"]["code"], "certificate_rejected", "{c}");
            assert_eq!(c["diagnosis"]["confidence"], "certain", "{c}");
            assert_eq!(c["alerts"][0]["description"], "certificate_unknown", "{c}");
            assert_eq!(c["alerts"][0]["encrypted"], true, "{c}");
        }
        assert!(
            tls.iter().any(|c| c["outcome"] == "established"),
            "{summary}"
        );
    }
}
