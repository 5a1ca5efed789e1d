//! The console's queue page at the size of a large desk: the whole answer (the session looked up, the page of
//! tickets, the categories, the saved views and columns, the template) through the server's own router in process,
//! so it is the server's time without TLS, next to the same bytes answered as a fixed page by a route of the same
//! router, in the same run and in turns.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::response::Html;
use lifeline_server::config::Config;
use lifeline_server::desk::access::Role;
use lifeline_server::pki::Pki;
use lifeline_server::service::admin::{self, By};
use lifeline_server::store::now_ms;
use lifeline_server::{Connected, State};
use tower::ServiceExt;

use crate::Row;
use crate::desk::{Bench, pair, time};

/// The queue's first page, filtered as a technician's working view would be.
const QUEUE: &str = "/queue?status=open&priority=high";

pub fn rows(bench: &Bench) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
    let pki = Pki::load_or_create(&config.pki_dir(), &[]).unwrap();
    let state =
        State { config, store: bench.store.clone(), pki, connected: Connected::default(), live: Default::default() };
    // A name of this run's own: a kept store has the accounts of earlier runs.
    let name = format!("bench-console-{}", now_ms());
    let account = bench.runtime.block_on(admin::add_user(&bench.store, By::Local, name, Role::Tier1)).unwrap();
    let cookie = format!("__Host-lifeline-session={}", account.token);
    let router = lifeline_server::api::router(Arc::new(state));
    let get = |app: &axum::Router, uri: &str| {
        let request = Request::get(uri).header("cookie", &cookie).body(Body::empty()).unwrap();
        bench.runtime.block_on(async {
            let response = app.clone().oneshot(request).await.unwrap();
            assert!(response.status().is_success(), "{uri}: {}", response.status());
            axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap()
        })
    };
    let page = get(&router, QUEUE);
    let html = String::from_utf8(page.to_vec()).unwrap();
    assert!(html.contains("tr data-row"), "the queue page lists no ticket");
    let app = router.route("/bench-static", axum::routing::get(move || async move { Html(html.clone()) }));
    let (ours, baseline) =
        time(5, bench.iterations(), |_| drop(get(&app, QUEUE)), |_| drop(get(&app, "/bench-static")));
    let figure = format!("console queue page ({} KiB)", page.len() / 1024);
    pair(&figure, &ours, &baseline, "the same bytes as a fixed page from the same router").into()
}
