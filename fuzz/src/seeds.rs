//! The seed corpus: representative messages of every type, encoded with the real codec, written to `seeds/<target>/`
//! by `cargo run --example gen_seeds`. They include the golden vectors from `lifeline_shared::codec`'s tests.
//!
//! Seeds only give the fuzzer a head start; a stale one is harmless. Regenerate them after a wire change so the
//! fuzzer starts from messages the new format accepts.

use lifeline_shared::catalog::{Check, RecordType};
use lifeline_shared::codec;
use lifeline_shared::dbus::{self, MethodCall};
use lifeline_shared::findings::{Category, Finding, FindingKind, Severity};
use lifeline_shared::ipp;
use lifeline_shared::journal;
use lifeline_shared::mail::{self, Mailbox, Outbound};
use lifeline_shared::token::EnrollToken;
use lifeline_shared::wire::{
    AgentControl, Battery, CheckOutcome, CheckReport, CheckRequest, ConsentWindow, Cpu, Disk, DiskRate, EnrollRequest,
    EnrollResponse, ErrorCode, Goodbye, Hello, HelpRequest, HistoryEntry, Host, Interface, LiveSample, LocalEvent,
    LocalRequest, LocalResponse, Memory, NetRate, Network, Probe, ProbeKind, Process, Processes, Request, Response,
    Route, SelfHelpReport, ServerControl, Snapshot, Temperature, ThreadEntry, ThreadKind, TicketSummary, TicketThread,
    UserAction, UserTicketAction, WireError,
};
use serde::Serialize;

/// One seed file: `seeds/<target>/<name>`.
#[derive(Debug)]
pub struct Seed {
    pub target: &'static str,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Every seed of every target.
pub fn all() -> Result<Vec<Seed>, codec::CodecError> {
    let mut out = Vec::new();
    framed(&mut out, "request", encode_all(requests())?, &[]);
    framed(&mut out, "response", encode_all(responses())?, &[]);
    framed(&mut out, "agent_control", encode_all(agent_controls())?, &[]);
    framed(&mut out, "server_control", encode_all(server_controls())?, &["server_control"]);
    let enroll = encode_all(enroll_requests())?;
    for (variant, frame) in &enroll {
        add(&mut out, "enroll", format!("enroll_request-{variant}-framed"), frame.clone());
    }
    framed(&mut out, "enroll_request", enroll, &["enroll"]);
    framed(&mut out, "enroll_response", encode_all(enroll_responses())?, &[]);
    framed(&mut out, "local_request", encode_all(local_requests())?, &[]);
    framed(&mut out, "local_response", encode_all(local_responses())?, &[]);
    framed(&mut out, "live_sample", encode_all(live_samples())?, &[]);
    framed(&mut out, "local_event", encode_all(local_events())?, &[]);
    framed(&mut out, "goodbye", encode_all(vec![("restart", Goodbye { reconnect_within_ms: 10_000 })])?, &[]);

    for (name, token) in tokens() {
        let text = token.encode();
        add(&mut out, "token", format!("{name}-text"), text.clone().into_bytes());
        add(&mut out, "token", format!("{name}-padded"), format!("  {text}\r\n").into_bytes());
        // The decoded body, which the `token` target also wraps into a token of its own.
        let fp: String = token.ca_fingerprint.iter().map(|b| format!("{b:02x}")).collect();
        let body = format!("{}\n{fp}\n{}", token.server, token.secret);
        add(&mut out, "token", format!("{name}-body"), body.into_bytes());
    }
    for (name, answer) in cups_answers() {
        add(&mut out, "ipp", format!("{name}-http"), answer.to_vec());
        if let Ok(Some(http)) = ipp::http_answer(answer, false) {
            // The same answer with its body in chunks, as CUPS may send it, and the body alone.
            let mut chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for chunk in http.body.chunks(100) {
                chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                chunked.extend_from_slice(chunk);
                chunked.extend_from_slice(b"\r\n");
            }
            chunked.extend_from_slice(b"0\r\n\r\n");
            add(&mut out, "ipp", format!("{name}-chunked"), chunked);
            add(&mut out, "ipp", format!("{name}-body"), http.body);
        }
    }
    for compact in [false, true] {
        let name = if compact { "compact" } else { "regular" };
        add(&mut out, "journal", format!("{name}-file"), journal::sample_file(compact, &journal_entries()));
    }
    for (name, message) in bus_messages() {
        add(&mut out, "dbus", name.into(), message.to_vec());
    }
    let restart = MethodCall {
        destination: "org.freedesktop.systemd1",
        path: "/org/freedesktop/systemd1",
        interface: "org.freedesktop.systemd1.Manager",
        member: "RestartUnit",
        args: &["cups.service", "replace"],
    };
    if let Ok(call) = dbus::method_call(&restart, std::num::NonZeroU32::MIN) {
        add(&mut out, "dbus", "restart-unit-call".into(), call);
    }
    add(&mut out, "dbus", "auth-ok".into(), b"OK 2ebb509d8debaf84ea6c60c86b0c6cb9\r\n".to_vec());
    add(&mut out, "dbus", "auth-rejected".into(), b"REJECTED EXTERNAL\r\n".to_vec());
    add(&mut out, "dbus", "call-arguments".into(), b"cups.service\nreplace".to_vec());
    for (name, message) in mail_messages() {
        add(&mut out, "mail", name.into(), message.replace('\n', "\r\n").into_bytes());
    }
    let answer = Outbound {
        from: Mailbox { address: "help@desk.example".into(), name: Some("Help Desk".into()) },
        to: vec![Mailbox { address: "alice@customer.example".into(), name: Some("Alice Müller".into()) }],
        subject: mail::ticket_subject(42, "Drucker läuft nicht"),
        body_text: "Bitte den Druckdienst neu starten.\n\n-- \nHelp Desk".into(),
        message_id: mail::message_id(42, 1, "desk.example", "k3j4h5g6f7d8s9a0"),
        in_reply_to: Some("CAF=abc123@mail.gmail.com".into()),
        references: vec!["CAF=abc123@mail.gmail.com".into()],
        auto_submitted: true,
        date: 1_709_632_800,
    };
    if let Ok(rendered) = mail::render(&answer) {
        add(&mut out, "mail", "rendered-acknowledgement".into(), rendered);
    }
    Ok(out)
}

/// What a bus sends the agent (see `lifeline_shared::dbus`'s tests): dbus-daemon's answer to Hello, its NameAcquired
/// signal and its error for a name nobody has; systemd's answers to RestartUnit in both byte orders.
fn bus_messages() -> [(&'static str, &'static [u8]); 6] {
    [
        ("hello-reply", include_bytes!("../../shared/testdata/dbus/hello-reply.bin")),
        ("name-acquired", include_bytes!("../../shared/testdata/dbus/name-acquired.bin")),
        ("service-unknown", include_bytes!("../../shared/testdata/dbus/service-unknown.bin")),
        ("restart-unit-reply-le", include_bytes!("../../shared/testdata/dbus/restart-unit-reply-le.bin")),
        ("restart-unit-reply-be", include_bytes!("../../shared/testdata/dbus/restart-unit-reply-be.bin")),
        ("no-such-unit-be", include_bytes!("../../shared/testdata/dbus/no-such-unit-be.bin")),
    ]
}

/// Small messages in the shapes the help desk receives (see `lifeline_shared::mail`'s tests for fuller ones), written
/// with `\n` and sent with CRLF: replies from Outlook, Gmail and Thunderbird, an encoded subject, an out-of-office
/// reply, a bounce, an HTML-only message with an attachment, and one without Message-ID.
fn mail_messages() -> [(&'static str, &'static str); 8] {
    [
        (
            "outlook-reply",
            "From: Alice <alice@customer.example>\nTo: help@desk.example\nSubject: RE: [#42] Printer\n\
             Thread-Index: AQHabopqXw2k7zK6T0mKz3xYbE0fTw==\nMessage-ID: <AM0PR01MB1234@eurprd01.prod.outlook.com>\n\
             References: <ticket-42.reply-1.k3j4h5g6f7d8s9a0@desk.example>\nDate: Tue, 5 Mar 2024 10:15:00 +0000\n\
             Content-Type: text/plain; charset=\"us-ascii\"\nContent-Transfer-Encoding: quoted-printable\n\n\
             Thanks, it prints again.\n\n-----Original Message-----\nFrom: Help Desk <help@desk.example>=20\n\
             Sent: Tuesday, March 5, 2024 10:00 AM\n\nPlease restart the spooler.\n",
        ),
        (
            "gmail-reply",
            "From: Bob <bob@gmail.example>\nTo: help@desk.example\nSubject: Re: [#42] Printer\n\
             Message-ID: <CAH+xyz789=def@mail.gmail.com>\nIn-Reply-To: <ticket-42.reply-2.z9y8x7w6v5u4t3s2@desk.example>\n\
             References: <CAF=abc123@mail.gmail.com>\n <ticket-42.reply-2.z9y8x7w6v5u4t3s2@desk.example>\n\
             Content-Type: multipart/alternative; boundary=\"00a1\"\n\n--00a1\nContent-Type: text/plain; charset=UTF-8\n\n\
             Still broken.\n\nOn Tue, Mar 5, 2024 at 10:00 AM Help Desk <help@desk.example>\nwrote:\n\n> Restart it.\n\
             \n--00a1\nContent-Type: text/html; charset=UTF-8\n\n<div dir=\"ltr\">Still broken.</div><blockquote>\
             Restart it.</blockquote>\n--00a1--\n",
        ),
        (
            "thunderbird-reply",
            "From: Carol <carol@customer.example>\nSubject: Re: [#42] Printer\nUser-Agent: Mozilla Thunderbird\n\
             Message-ID: <5f1c2d3e@customer.example>\nIn-Reply-To: <ticket-42.reply-2.z9y8@desk.example>\n\
             Content-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: 8bit\n\n\
             Läuft wieder!\n\nAm 05.03.24 um 10:00 schrieb Help Desk:\n> Restart it.\n",
        ),
        (
            "encoded-subject",
            "From: carol@customer.example\nSubject: =?iso-8859-1?Q?AW:_=5B#4?= =?UTF-8?B?Ml0gRHJ1Y2tlciBsw6R1ZnQ=?=\n\n\
             Hallo\n",
        ),
        (
            "out-of-office",
            "From: dave@customer.example\nSubject: Automatic reply: [#42] Printer\nAuto-Submitted: auto-replied\n\
             X-Auto-Response-Suppress: All\nPrecedence: bulk\nX-Loop: help@desk.example\n\
             In-Reply-To: <ticket-42.reply-3.abc@desk.example>\n\nI am out of the office.\n",
        ),
        (
            "bounce",
            "Return-Path: <>\nFrom: MAILER-DAEMON@mx.desk.example\nSubject: Undelivered Mail\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\n\n--B1\n\
             Content-Type: text/plain\n\nCould not be delivered.\n--B1\nContent-Type: message/delivery-status\n\n\
             Final-Recipient: rfc822; nobody@customer.example\nAction: failed\nStatus: 5.1.1\n--B1\n\
             Content-Type: message/rfc822\n\nFrom: help@desk.example\nMessage-ID: <ticket-42.reply-4.q1w2@desk.example>\n\
             Subject: [#42] Printer\n\nPlease restart.\n--B1--\n",
        ),
        (
            "html-with-attachment",
            "From: erin@customer.example\nSubject: Screen\nMessage-ID: <new@customer.example>\n\
             Content-Type: multipart/mixed; boundary=\"m\"\n\n--m\nContent-Type: text/html; charset=utf-8\n\n\
             <html><head><style>p{}</style></head><body><p>It &amp; the <b>screen</b></p><br>flickers</body></html>\n\
             --m\nContent-Type: image/png; name=\"screen.png\"\nContent-Disposition: attachment; filename=\"screen.png\"\n\
             Content-Transfer-Encoding: base64\n\niVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\n\
             --m--\n",
        ),
        (
            "no-message-id",
            "From: backup@customer.example\nTo: help@desk.example\nSubject: [#42] nightly report\n\nOK\n",
        ),
    ]
}

/// A unit's errors, its other messages, systemd's own message about it, another unit, and a compressed message.
fn journal_entries() -> Vec<journal::SampleEntry<'static>> {
    const UNIT: (&str, bool) = ("_SYSTEMD_UNIT=cups.service", false);
    vec![
        (100, &[UNIT, ("PRIORITY=3", false), ("MESSAGE=printer on fire", false)]),
        (200, &[UNIT, ("PRIORITY=6", false), ("MESSAGE=job queued", false)]),
        (300, &[("_SYSTEMD_UNIT=sshd.service", false), ("PRIORITY=2", false), ("MESSAGE=other", false)]),
        (400, &[("UNIT=cups.service", false), ("PRIORITY=3", false), ("MESSAGE=Failed to start", false)]),
        (500, &[UNIT, ("PRIORITY=2", false), ("MESSAGE=long", true)]),
        (600, &[UNIT, ("PRIORITY=3", false), ("MESSAGE=\x1b[31mred\n", false)]),
    ]
}

/// Answers captured from a real cupsd (see `lifeline_shared::ipp`'s tests), byte for byte.
fn cups_answers() -> [(&'static str, &'static [u8]); 6] {
    [
        ("cups_get_printers", include_bytes!("../../shared/testdata/ipp/cups-get-printers.http")),
        ("get_jobs", include_bytes!("../../shared/testdata/ipp/get-jobs.http")),
        ("get_jobs_not_found", include_bytes!("../../shared/testdata/ipp/get-jobs-not-found.http")),
        ("cancel_jobs", include_bytes!("../../shared/testdata/ipp/cancel-jobs.http")),
        ("resume_printer", include_bytes!("../../shared/testdata/ipp/resume-printer.http")),
        ("unauthorized", include_bytes!("../../shared/testdata/ipp/unauthorized.http")),
    ]
}

fn add(out: &mut Vec<Seed>, target: &'static str, name: String, bytes: Vec<u8>) {
    out.push(Seed { target, name, bytes });
}

/// Each frame for `frame`, its body for `messages` and the targets in `also`, then all frames back to back for
/// `frame`, as a stream reader sees them.
fn framed(out: &mut Vec<Seed>, type_name: &str, frames: Vec<(&str, Vec<u8>)>, also: &[&'static str]) {
    let mut stream = Vec::new();
    for (variant, frame) in frames {
        let name = format!("{type_name}-{variant}");
        let body = &frame[codec::PREFIX_LEN..];
        add(out, "messages", name.clone(), body.to_vec());
        for target in also {
            add(out, target, name.clone(), body.to_vec());
        }
        stream.extend_from_slice(&frame);
        add(out, "frame", name, frame);
    }
    add(out, "frame", format!("{type_name}-stream"), stream);
}

fn encode_all<T: Serialize>(msgs: Vec<(&'static str, T)>) -> Result<Vec<(&'static str, Vec<u8>)>, codec::CodecError> {
    msgs.into_iter().map(|(name, msg)| Ok((name, codec::encode(&msg)?))).collect()
}

fn snapshot() -> Snapshot {
    let process = |pid, name: &str, user: Option<&str>| Process {
        pid,
        name: name.into(),
        user: user.map(Into::into),
        cpu_pct: 12.5,
        rss_bytes: 48 << 20,
    };
    Snapshot {
        id: [1; 16],
        taken_at_ms: 1_700_000_000_000,
        host: Host {
            hostname: "pc-42".into(),
            os_name: "Debian".into(),
            os_version: "12".into(),
            kernel: "6.1.0-18-amd64".into(),
            arch: "x86_64".into(),
            uptime_secs: 86_400,
            boot_time_secs: 1_699_913_600,
            agent_version: "0.1.0".into(),
            users: vec!["ann".into(), "bob".into()],
        },
        cpu: Cpu {
            model: "Intel(R) Core(TM) i5".into(),
            physical_cores: Some(4),
            logical_cores: 8,
            usage_pct: 37.5,
            load_avg: [0.5, 1.0, 1.5],
        },
        memory: Memory {
            total_bytes: 16 << 30,
            used_bytes: 9 << 30,
            available_bytes: 7 << 30,
            swap_total_bytes: 2 << 30,
            swap_used_bytes: 0,
        },
        disks: vec![
            Disk {
                mount_point: "/".into(),
                file_system: "ext4".into(),
                total_bytes: 500 << 30,
                available_bytes: 3 << 30,
                removable: false,
            },
            Disk {
                mount_point: "/media/usb".into(),
                file_system: "vfat".into(),
                total_bytes: 32 << 30,
                available_bytes: 30 << 30,
                removable: true,
            },
        ],
        temperatures: vec![Temperature { label: "Package id 0".into(), celsius: 71.0, critical_celsius: Some(100.0) }],
        battery: Some(Battery { percent: 81.0, charging: true, health_pct: Some(93.5) }),
        network: Network {
            interfaces: vec![Interface {
                name: "eth0".into(),
                mac: "52:54:00:12:34:56".into(),
                addresses: vec!["192.168.1.20/24".into(), "fe80::1/64".into()],
                rx_bytes: 1 << 30,
                tx_bytes: 1 << 28,
                rx_errors: 0,
                tx_errors: 3,
            }],
            default_route: Some(Route { interface: "eth0".into(), gateway: "192.168.1.1".into() }),
            dns_servers: vec!["192.168.1.1".into()],
            probes: vec![
                Probe {
                    kind: ProbeKind::Dns,
                    target: "example.org".into(),
                    ok: true,
                    latency_us: Some(4_200),
                    detail: "93.184.215.14".into(),
                },
                Probe {
                    kind: ProbeKind::Link,
                    target: "helpdesk.example.org:7443".into(),
                    ok: false,
                    latency_us: None,
                    detail: "no connection to the server right now".into(),
                },
            ],
        },
        processes: Processes {
            count: 312,
            top_cpu: vec![process(1234, "firefox", Some("ann")), process(1, "systemd", None)],
            top_memory: vec![process(1234, "firefox", Some("ann"))],
        },
        problems: vec!["battery: no health data".into()],
    }
}

fn ticket(number: u64) -> TicketSummary {
    TicketSummary { number, subject: "printer offline".into(), status: "open".into(), updated_at_ms: 1_700_000_000_000 }
}

fn thread() -> TicketThread {
    let at_ms = 1_700_000_000_000;
    TicketThread {
        summary: ticket(17),
        user: "ann".into(),
        entries: vec![
            ThreadEntry { seq: 1, at_ms, kind: ThreadKind::Status { status: "open".into() } },
            ThreadEntry {
                seq: 2,
                at_ms,
                kind: ThreadKind::Reply { author: "alice".into(), text: "Is the printer switched on?".into() },
            },
            ThreadEntry { seq: 3, at_ms, kind: ThreadKind::Answer { text: "yes".into() } },
        ],
    }
}

fn finding() -> Finding {
    Finding {
        kind: FindingKind::DiskNearlyFull,
        severity: Severity::Critical,
        category: Category::Storage,
        summary: "The disk / is 97% full.".into(),
        advice: "Empty the trash".into(),
        about: "/".into(),
        figure: Some(97),
    }
}

fn history_entry() -> HistoryEntry {
    HistoryEntry {
        at_ms: 1_700_000_000_000,
        technician: "alice".into(),
        ticket: Some(17),
        check: "disk-usage path=/home".into(),
        outcome: "done".into(),
        run: 3,
    }
}

fn requests() -> Vec<(&'static str, Request)> {
    let result = |id, outcome| Request::CheckResult(CheckReport { id, outcome });
    vec![
        ("snapshot", Request::Snapshot(snapshot())),
        ("snapshot_empty", Request::Snapshot(Snapshot::default())),
        (
            "help",
            Request::Help(HelpRequest {
                id: [2; 16],
                user: "ann".into(),
                subject: "cannot print".into(),
                description: "the printer says offline since this morning".into(),
                snapshot: snapshot(),
            }),
        ),
        // Golden vector.
        ("tickets", Request::Tickets { user: "ann".into() }),
        ("probe", Request::Probe { payload: vec![0; 64], reply_len: 1024 }),
        ("ticket_snapshot", Request::TicketSnapshot { ticket: 42, snapshot: snapshot() }),
        ("check_done", result(1, CheckOutcome::Done { output: "up 3 days".into(), elapsed_ms: 42 })),
        ("check_refused", result(2, CheckOutcome::Refused { reason: "no consent".into() })),
        ("check_failed", result(3, CheckOutcome::Failed { error: "permission denied".into() })),
        ("check_timed_out", result(4, CheckOutcome::TimedOut { limit_ms: 10_000 })),
        (
            "user_reply",
            Request::UserTicket(UserTicketAction {
                id: [3; 16],
                user: "ann".into(),
                ticket: 17,
                at_ms: 1_700_000_000_000,
                action: UserAction::Reply { text: "still broken".into() },
            }),
        ),
        (
            "user_solved",
            Request::UserTicket(UserTicketAction {
                id: [4; 16],
                user: "ann".into(),
                ticket: 17,
                at_ms: 1_700_000_000_000,
                action: UserAction::Solved,
            }),
        ),
        (
            "self_help",
            Request::SelfHelp(SelfHelpReport {
                id: [5; 16],
                user: "ann".into(),
                at_ms: 1_700_000_000_000,
                shown: vec![FindingKind::DiskNearlyFull, FindingKind::DnsFailing],
                solved: true,
            }),
        ),
    ]
}

fn responses() -> Vec<(&'static str, Response)> {
    vec![
        // Golden vectors: `stored`, `error`.
        ("stored", Response::Stored { id: [7; 16] }),
        ("help_accepted", Response::HelpAccepted { request_id: [2; 16], ticket: 17 }),
        ("tickets", Response::Tickets(vec![ticket(17), ticket(18)])),
        ("error", Response::Error(WireError { code: ErrorCode::TooLarge, message: "big".into() })),
        ("error_refused", Response::Error(WireError { code: ErrorCode::Refused, message: "no".into() })),
        ("error_unavailable", Response::Error(WireError { code: ErrorCode::Unavailable, message: "full".into() })),
        ("probe", Response::Probe { payload: vec![0; 64] }),
        ("recorded", Response::Recorded { id: [3; 16] }),
    ]
}

fn agent_controls() -> Vec<(&'static str, AgentControl)> {
    vec![
        // Golden vectors: `hello`, `heartbeat`.
        (
            "hello",
            AgentControl::Hello(Hello {
                protocol: 1,
                agent_version: "0.1.0".into(),
                hostname: "pc-42".into(),
                os: "Debian 12".into(),
            }),
        ),
        ("heartbeat", AgentControl::Heartbeat { seq: 300 }),
    ]
}

/// One valid instance of every catalog check, then a few a hostile server could send.
fn checks() -> Vec<(&'static str, Check)> {
    vec![
        ("system_summary", Check::SystemSummary),
        ("top_processes", Check::TopProcesses { count: 10 }),
        ("disk_usage", Check::DiskUsage { path: "/home".into() }),
        ("network_interfaces", Check::NetworkInterfaces),
        ("dns_resolve", Check::DnsResolve { name: "example.org".into(), record: RecordType::Aaaa }),
        ("tcp_connect", Check::TcpConnect { host: "10.0.0.1".into(), port: 443 }),
        ("listening_ports", Check::ListeningPorts),
        ("service_status", Check::ServiceStatus { unit: "cups.service".into() }),
        ("printer_queue", Check::PrinterQueue),
        ("process_list", Check::ProcessList { command_lines: true }),
        ("restart_service", Check::RestartService { unit: "cups.service".into() }),
        ("flush_dns_cache", Check::FlushDnsCache),
        ("http_reach", Check::HttpReach { url: "https://example.org:8443/status?x=1".into() }),
        ("bad_url", Check::HttpReach { url: "http://example.org/$(id)".into() }),
        ("ping", Check::Ping { host: "192.0.2.1".into(), count: 4 }),
        ("bandwidth", Check::Bandwidth { megabytes: 4 }),
        ("bad_count", Check::TopProcesses { count: 200 }),
        ("bad_path", Check::DiskUsage { path: "/../../etc/shadow".into() }),
        ("bad_unit", Check::ServiceStatus { unit: "-H evil".into() }),
        ("bad_port", Check::TcpConnect { host: "x".into(), port: 0 }),
        ("clear_print_queue", Check::ClearPrintQueue { printer: "office-1".into() }),
        ("bad_printer", Check::ClearPrintQueue { printer: "../x".into() }),
        ("journal_errors", Check::JournalErrors { unit: "cups.service".into(), hours: 24 }),
        ("bad_hours", Check::JournalErrors { unit: "cups.service".into(), hours: 0 }),
    ]
}

fn server_controls() -> Vec<(&'static str, ServerControl)> {
    let mut out = vec![
        ("watch_start", ServerControl::WatchStart { interval_ms: 1000 }),
        ("watch_stop", ServerControl::WatchStop),
        ("snapshot_now", ServerControl::SnapshotNow { ticket: 42 }),
        ("ticket_changed", ServerControl::TicketChanged(thread())),
        // Golden vector.
        (
            "welcome",
            ServerControl::Welcome {
                protocol: 1,
                server_version: "0.1.0".into(),
                agent_id: "a1".into(),
                heartbeat_secs: 15,
            },
        ),
        ("heartbeat_ack", ServerControl::HeartbeatAck { seq: 300 }),
    ];
    for (i, (name, check)) in checks().into_iter().enumerate() {
        let req = CheckRequest {
            id: i as u64 + 1,
            ticket: if i % 2 == 0 { Some(17) } else { None },
            technician: "tech1".into(),
            check,
        };
        out.push((name, ServerControl::RunCheck(req)));
    }
    out
}

fn enroll_requests() -> Vec<(&'static str, EnrollRequest)> {
    vec![(
        "enroll",
        EnrollRequest {
            token_secret: "s3cr3t-s3cr3t-s3cr3t".into(),
            // A stand-in for a PKCS#10 request: the codec only sees bytes.
            csr_der: vec![0x30, 0x82, 0x01, 0x0a, 0x30, 0x81, 0xb0, 0x02, 0x01, 0x00],
            hostname: "pc-42".into(),
            os: "Debian 12".into(),
            agent_version: "0.1.0".into(),
        },
    )]
}

fn enroll_responses() -> Vec<(&'static str, EnrollResponse)> {
    vec![
        (
            "enrolled",
            EnrollResponse::Enrolled { agent_id: "a1".into(), cert_der: vec![0x30, 0x82, 1, 2], ca_der: vec![0x30, 3] },
        ),
        // Golden vector.
        ("refused", EnrollResponse::Refused { message: "expired".into() }),
    ]
}

fn local_requests() -> Vec<(&'static str, LocalRequest)> {
    vec![
        ("help", LocalRequest::Help { subject: "cannot print".into(), description: "offline".into() }),
        ("tickets", LocalRequest::Tickets),
        ("consents", LocalRequest::Consents),
        ("revoke_consent", LocalRequest::RevokeConsent { ticket: 17 }),
        ("extend_consent", LocalRequest::ExtendConsent { ticket: 17, minutes: 30 }),
        ("history", LocalRequest::History),
        ("ticket", LocalRequest::Ticket { number: 17 }),
        ("reply", LocalRequest::Reply { ticket: 17, text: "still broken".into() }),
        ("solved", LocalRequest::Solved { ticket: 17 }),
        ("findings", LocalRequest::Findings),
        ("advice_outcome", LocalRequest::AdviceOutcome { shown: vec![FindingKind::DnsFailing], solved: false }),
        ("subscribe", LocalRequest::Subscribe),
    ]
}

fn live_samples() -> Vec<(&'static str, LiveSample)> {
    let full = LiveSample {
        seq: 7,
        taken_at_ms: 1_700_000_000_000,
        cpu_pct: 12.5,
        per_core_pct: vec![10.0, 15.0],
        load_avg: [0.5, 0.25, 0.1],
        memory_used_bytes: 1 << 30,
        memory_total_bytes: 8 << 30,
        swap_used_bytes: 0,
        swap_total_bytes: 1 << 30,
        net: vec![NetRate {
            interface: "eth0".into(),
            rx_bytes_per_s: 1000,
            tx_bytes_per_s: 200,
            ..NetRate::default()
        }],
        disks: vec![DiskRate { mount_point: "/".into(), read_bytes_per_s: 4096, written_bytes_per_s: 0 }],
        top_cpu: vec![Process {
            pid: 1,
            name: "init".into(),
            user: Some("root".into()),
            cpu_pct: 1.0,
            rss_bytes: 4096,
        }],
        top_memory: Vec::new(),
        findings: Some(vec![finding()]),
    };
    vec![("empty", LiveSample::default()), ("full", full)]
}

fn local_events() -> Vec<(&'static str, LocalEvent)> {
    let window = ConsentWindow { ticket: 17, user: "ann".into(), until_ms: 1_700_000_000_000 };
    vec![
        ("ticket_changed", LocalEvent::TicketChanged { thread: thread(), new: thread().entries.split_off(1) }),
        ("check_ran", LocalEvent::CheckRan(history_entry())),
        ("consent_opened", LocalEvent::ConsentOpened(window.clone())),
        ("consent_expiring", LocalEvent::ConsentExpiring(window)),
    ]
}

fn local_responses() -> Vec<(&'static str, LocalResponse)> {
    vec![
        ("help_accepted", LocalResponse::HelpAccepted { ticket: 17 }),
        ("tickets", LocalResponse::Tickets(vec![ticket(17)])),
        ("error", LocalResponse::Error { message: "server unreachable".into() }),
        ("help_queued", LocalResponse::HelpQueued),
        (
            "consents",
            LocalResponse::Consents {
                windows: vec![ConsentWindow { ticket: 17, user: "ann".into(), until_ms: 1_700_000_000_000 }],
                unattended_class_a: true,
            },
        ),
        (
            "history",
            LocalResponse::History(vec![HistoryEntry {
                at_ms: 1_700_000_000_000,
                technician: "tech1".into(),
                ticket: Some(17),
                check: "system-summary".into(),
                outcome: "done".into(),
                run: 9,
            }]),
        ),
        ("done", LocalResponse::Done { message: "consent revoked".into() }),
        ("ticket", LocalResponse::Ticket(thread())),
        ("findings", LocalResponse::Findings(vec![finding()])),
        ("saved", LocalResponse::Saved { delivered: false }),
        ("subscribed", LocalResponse::Subscribed),
    ]
}

fn tokens() -> Vec<(&'static str, EnrollToken)> {
    vec![
        ("token_ipv6", EnrollToken { server: "[::1]:7443".into(), ca_fingerprint: [0xab; 32], secret: "s".repeat(32) }),
        (
            "token_dns",
            EnrollToken {
                server: "lifeline.example.org:7443".into(),
                ca_fingerprint: core::array::from_fn(|i| i as u8 * 7),
                secret: "0123456789abcdef".into(),
            },
        ),
    ]
}
