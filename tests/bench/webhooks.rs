//! The ingest load with help requests, on a server with three webhook endpoints subscribed to every event, next to
//! the same load on a server without them: what the outbox and its sender cost the agents' path.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Row, Settings, ingest_load, server_with_config};

/// Help requests a minute across the swarm while it uploads: every one a ticket, so an event for every endpoint.
const HELP_PER_MIN: usize = 600;

pub fn rows(settings: &Settings) -> Vec<Row> {
    let without = server_with_config("", |_| {});
    let (plain, _) = ingest_load(&without, settings, HELP_PER_MIN);
    drop(without);

    let received = Arc::new(AtomicUsize::new(0));
    let receiver = receive(received.clone());
    let server = server_with_config("[webhooks]\nallow = [\"127.0.0.1/32\"]\n", |_| {});
    for n in 0..3 {
        let url = format!("http://{receiver}/hook/{n}");
        let out = server.cli(&["webhook", "add", "--url", &url, "--events", "all"]);
        assert!(out.ok, "webhook add failed: {}", out.stderr);
    }
    let (hooked, _) = ingest_load(&server, settings, HELP_PER_MIN);
    let db = server.sql();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let (tickets, pending) = (
        count("SELECT count(*) FROM tickets"),
        count("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'"),
    );
    let received = received.load(Ordering::Relaxed);
    assert!(tickets > 0 && received > 0, "no event was delivered: {tickets} tickets, {received} deliveries");
    vec![Row {
        figure: "ingest with three webhook endpoints".into(),
        value: hooked["acked_per_sec"].as_f64().unwrap(),
        unit: "/s",
        baseline: plain["acked_per_sec"].as_f64(),
        against: format!(
            "the same load without endpoints, same run; {HELP_PER_MIN} help requests/min; {tickets} tickets, \
             {received} deliveries received, {pending} pending at the end"
        ),
    }]
}

/// A webhook receiver on loopback answering every request 204, counting them; its address.
fn receive(received: Arc<AtomicUsize>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let received = received.clone();
            std::thread::spawn(move || answer(stream, &received));
        }
    });
    addr
}

/// Answers the requests on one connection until the sender closes it.
fn answer(stream: TcpStream, received: &AtomicUsize) {
    let Ok(mut out) = stream.try_clone() else { return };
    let mut lines = BufReader::new(stream);
    loop {
        let (mut line, mut length) = (String::new(), 0);
        loop {
            line.clear();
            if lines.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if lines.read_exact(&mut body).is_err() {
            return;
        }
        received.fetch_add(1, Ordering::Relaxed);
        if out.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}
