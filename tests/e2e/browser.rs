//! A real headless Chromium, driven through chromedriver (WebDriver), for the web console's tests: blocking methods
//! with bounded waits, screenshots under `target/console-screens/`, and axe-core's WCAG 2.0/2.1 A and AA rules run in
//! the page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`, always the same
//! version): `./test` installs them, or leaves these tests out by name where it cannot. The tests at the bottom serve
//! their own pages, so the harness is proved on its own before any console page depends on it.

use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{Proc, eventually};

pub use fantoccini::key::Key;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a wait for something on the page lasts before the test fails.
const WAIT: Duration = Duration::from_secs(10);
/// A bound on any one WebDriver command, so that a browser that stops answering fails the test instead of hanging it.
/// Generous: axe on a long page takes seconds on a loaded 2-core machine.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);
/// The bound on the exchanges that only describe a failure or clean up (the address, a screenshot, ending the session):
/// the browser may be the thing that hung.
const FAILURE_LIMIT: Duration = Duration::from_secs(10);
/// What axe checks: WCAG 2.0 and 2.1, levels A and AA. Best-practice rules are left out: they are advice, not failures.
const AXE_TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// One headless Chromium session behind its own chromedriver, for a synchronous test. Dropping it ends the session,
/// then kills chromedriver and whatever of Chromium is left; dropping it while the test panics first saves a
/// screenshot named after the test.
pub struct Browser {
    // Taken in `drop`, so that the session is ended while the runtime and chromedriver are still there.
    client: Option<Client>,
    rt: tokio::runtime::Runtime,
    driver: Proc,
    driver_url: String,
    session: String,
    test: String,
    // Chromium's profile, fresh for each session; removed once the browser is gone.
    _profile: TempDir,
}

impl Browser {
    /// A browser asking for pages in American English.
    pub fn new() -> Browser {
        Browser::with_language("en-US")
    }

    /// A browser whose user prefers `language` (a BCP 47 tag such as `fr-FR`): its UI language, `navigator.language`
    /// and the `Accept-Language` header it sends.
    pub fn with_language(language: &str) -> Browser {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: install Debian's chromium and chromium-driver (./test does, as root)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"));
        // Chromium and its helpers are chromedriver's children: in a process group of their own, they can all be
        // killed by the group's id if the session cannot be ended properly.
        cmd.process_group(0);
        let driver = Proc::spawn("chromedriver", cmd);
        let driver_url = format!("http://127.0.0.1:{port}");

        let status = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        eventually(&format!("chromedriver to answer on {driver_url}"), WAIT, || {
            let mut answer = status.get(format!("{driver_url}/status")).call().ok()?;
            let body: Value = answer.body_mut().read_json().ok()?;
            (body["value"]["ready"] == true).then_some(())
        });

        let profile = tempfile::Builder::new().prefix("lifeline-chromium-").tempdir().expect("a temp dir");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let capabilities = capabilities(language, profile.path());
        let client = rt
            .block_on(async {
                let mut builder = ClientBuilder::new(HttpConnector::new());
                builder.capabilities(capabilities);
                // The timer is made inside the runtime: tokio's timers need one to exist.
                tokio::time::timeout(COMMAND_LIMIT, builder.connect(&driver_url)).await
            })
            .unwrap_or_else(|_| panic!("chromedriver opened no session in {COMMAND_LIMIT:?}"))
            .unwrap_or_else(|e| panic!("opening a Chromium session through chromedriver: {e}"));
        let session =
            rt.block_on(client.session_id()).ok().flatten().expect("a session id for the session just opened");
        // libtest runs each test on a thread named after it, which nextest keeps too.
        let test = match std::thread::current().name() {
            Some(name) if name != "main" => name.replace("::", "-"),
            _ => "browser".to_owned(),
        };
        Browser { client: Some(client), rt, driver, driver_url, session, test, _profile: profile }
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.block(&format!("opening {url}"), self.client().goto(url));
    }

    /// The address of the page shown now.
    pub fn current_url(&self) -> String {
        self.block("reading the current URL", self.client().current_url()).to_string()
    }

    /// Waits until an element matching `css` is shown (present and displayed), and returns the first such one's text.
    pub fn wait_for(&self, css: &str) -> String {
        self.poll(&format!("`{css}` to be shown"), || {
            self.try_block(async {
                for e in self.client().find_all(Locator::Css(css)).await? {
                    if e.is_displayed().await? {
                        return Ok(Some(e.text().await?));
                    }
                }
                Ok(None)
            })
        })
    }

    /// Waits until no element matching `css` is shown: none is there, or none is displayed.
    pub fn wait_gone(&self, css: &str) {
        self.poll(&format!("`{css}` to be gone"), || {
            self.try_block(async {
                for e in self.client().find_all(Locator::Css(css)).await? {
                    if e.is_displayed().await? {
                        return Ok(None);
                    }
                }
                Ok(Some(()))
            })
        });
    }

    /// Clicks the first element matching `css`, waiting for it to be there and clickable.
    pub fn click(&self, css: &str) {
        self.on_element(css, "clicked", |e| async move { e.click().await });
    }

    /// Empties the field matching `css`, then types `text` into it as keystrokes.
    pub fn fill(&self, css: &str, text: &str) {
        self.on_element(css, "filled in", |e| async move {
            e.clear().await?;
            e.send_keys(text).await
        });
    }

    /// The rendered text of the first element matching `css`, waiting for one to be there.
    pub fn text(&self, css: &str) -> String {
        self.on_element(css, "read", |e| async move { e.text().await })
    }

    /// The rendered texts of every element matching `css`, in document order, at once: an empty list when none does
    /// (`wait_for` first where the list must not be empty).
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.block(&format!("reading every `{css}`"), async {
            let mut texts = Vec::new();
            for e in self.client().find_all(Locator::Css(css)).await? {
                texts.push(e.text().await?);
            }
            Ok(texts)
        })
    }

    /// Attribute `name` of the first element matching `css`, waiting for one to be there; `None` when it lacks it.
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.on_element(css, "read", |e| async move { e.attr(name).await })
    }

    /// Whether an element matching `css` is there now, shown or not. No wait.
    pub fn exists(&self, css: &str) -> bool {
        !self.block(&format!("looking for `{css}`"), self.client().find_all(Locator::Css(css))).is_empty()
    }

    /// Presses `keys` on the keyboard, one after the other, into whatever has the focus (the page's body when
    /// nothing does), as a user would. Letters are themselves (`"j"`, `"?"`); special keys come from [`Key`]
    /// (`&Key::Enter`, `&Key::Escape`). Modifiers stay held until the end: `&(Key::Control + "k")` is Ctrl+K.
    pub fn press(&self, keys: &str) {
        let modifiers: Vec<char> =
            [Key::Shift, Key::Control, Key::Alt, Key::Meta].into_iter().map(char::from).collect();
        let mut held = Vec::new();
        let mut actions = KeyActions::new("keyboard".to_owned());
        for key in keys.chars() {
            actions = actions.then(KeyAction::Down { value: key });
            if modifiers.contains(&key) {
                held.push(key);
            } else {
                actions = actions.then(KeyAction::Up { value: key });
            }
        }
        for key in held.into_iter().rev() {
            actions = actions.then(KeyAction::Up { value: key });
        }
        self.block(&format!("pressing {keys:?}"), self.client().perform_actions(actions));
    }

    /// Runs `js` as the body of a function in the page (`arguments` holds `args`), and returns what it returns.
    /// WebDriver's scripts go through DevTools, which the page's Content-Security-Policy does not police.
    pub fn execute(&self, js: &str, args: Vec<Value>) -> Value {
        self.block("running a script in the page", self.client().execute(js, args))
    }

    /// Runs `js` as the body of a function in the page that answers by calling its last argument (WebDriver's
    /// asynchronous script: `arguments[arguments.length - 1](answer)`, after a `fetch`, say), and returns the answer.
    pub fn execute_async(&self, js: &str, args: Vec<Value>) -> Value {
        self.block("running an asynchronous script in the page", self.client().execute_async(js, args))
    }

    /// Waits until the JavaScript expression `js_condition` is true on the page; `what` says what that means, for
    /// the failure. An expression that throws counts as false (an element not there yet), and the failure shows
    /// its last error.
    pub fn wait_until(&self, what: &str, js_condition: &str) {
        let script = format!("return !!({js_condition});");
        let mut last_error = String::new();
        let start = Instant::now();
        loop {
            match self.try_block(self.client().execute(&script, vec![])) {
                Ok(Value::Bool(true)) => return,
                Ok(_) => {}
                Err(e) => last_error = format!("; it last threw: {e}"),
            }
            assert!(
                start.elapsed() < WAIT,
                "timed out after {WAIT:?} waiting for {what} (`{js_condition}`) on {}{last_error}",
                self.url_or_unknown()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of the browser's window as `target/console-screens/<name>.png`, and returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        self.try_screenshot(name).unwrap_or_else(|e| panic!("taking screenshot {name:?}: {e:#}"))
    }

    /// axe-core's WCAG 2.0/2.1 A and AA violations on the page shown now, as axe reports them (`id`, `impact`,
    /// `help`, `helpUrl`, `nodes` with each node's `target` and `html`).
    pub fn axe(&self) -> Vec<Value> {
        // axe's source is run as a WebDriver script, as axe's own WebDriver integrations do. Under the console's
        // `script-src 'self'` a <script> element carrying it would be refused; the DevTools path is not.
        let loaded = self.execute("return typeof window.axe === 'object';", vec![]);
        if loaded != json!(true) {
            let source =
                std::fs::read_to_string(axe_path()).unwrap_or_else(|e| panic!("reading {}: {e}", axe_path().display()));
            let loaded = self.execute(&format!("{source}\n;return typeof window.axe === 'object';"), vec![]);
            assert_eq!(loaded, json!(true), "axe-core did not load into {}", self.url_or_unknown());
        }
        let run = "const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: arguments[0] }, resultTypes: ['violations'] })
                .then(r => done({ violations: r.violations }), e => done({ error: String(e) }));";
        let answer = self.block("running axe", self.client().execute_async(run, vec![json!(AXE_TAGS)]));
        match answer["violations"].as_array() {
            Some(violations) => violations.clone(),
            None => panic!("axe failed on {}: {}", self.url_or_unknown(), answer["error"]),
        }
    }

    /// Fails the test, listing each violation with its failing elements, when axe finds any on the page shown now;
    /// `page` names the page in that report.
    pub fn assert_accessible(&self, page: &str) {
        let violations = self.axe();
        assert!(violations.is_empty(), "{}", axe_report(page, &self.url_or_unknown(), &violations));
    }

    /// The errors the page logged to its console since the last call (or since the session began): script errors,
    /// resources that failed to load, and what the Content-Security-Policy refused.
    pub fn console_errors(&self) -> Vec<String> {
        // The legacy log endpoint is chromedriver's own (fantoccini has no call for it); the session asks for the
        // browser's log in `goog:loggingPrefs`.
        let agent = ureq::Agent::config_builder().timeout_global(Some(COMMAND_LIMIT)).build().new_agent();
        let url = format!("{}/session/{}/se/log", self.driver_url, self.session);
        let mut answer = agent
            .post(&url)
            .send_json(json!({ "type": "browser" }))
            .unwrap_or_else(|e| panic!("reading the browser's console log from chromedriver: {e}"));
        let log: Value = answer.body_mut().read_json().expect("chromedriver's log as JSON");
        let entries = log["value"].as_array().unwrap_or_else(|| panic!("no log entries in {log}"));
        entries
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session stays open until the browser is dropped")
    }

    /// Runs one WebDriver exchange to its end, for at most `COMMAND_LIMIT`.
    fn try_block<T>(&self, fut: impl Future<Output = Result<T, CmdError>>) -> anyhow::Result<T> {
        self.try_block_for(COMMAND_LIMIT, fut)
    }

    fn try_block_for<T>(&self, limit: Duration, fut: impl Future<Output = Result<T, CmdError>>) -> anyhow::Result<T> {
        // The timer is made inside the runtime: tokio's timers need one to exist.
        match self.rt.block_on(async { tokio::time::timeout(limit, fut).await }) {
            Ok(answer) => Ok(answer?),
            Err(_) => anyhow::bail!("the browser gave no answer in {limit:?}"),
        }
    }

    fn block<T>(&self, doing: &str, fut: impl Future<Output = Result<T, CmdError>>) -> T {
        self.try_block(fut).unwrap_or_else(|e| panic!("{doing} on {}: {e:#}", self.url_or_unknown()))
    }

    /// Polls `f` every 100 ms until it gives `Some`, for at most `WAIT`. An element replaced while `f` looked at it
    /// (as an htmx swap does) is one more try; any other error ends the wait at once.
    fn poll<T>(&self, what: &str, mut f: impl FnMut() -> anyhow::Result<Option<T>>) -> T {
        let start = Instant::now();
        loop {
            match f() {
                Ok(Some(v)) => return v,
                Ok(None) => {}
                Err(e) if e.downcast_ref::<CmdError>().is_some_and(CmdError::is_stale_element_reference) => {}
                Err(e) => panic!("waiting for {what} on {}: {e:#}", self.url_or_unknown()),
            }
            assert!(start.elapsed() < WAIT, "timed out after {WAIT:?} waiting for {what} on {}", self.url_or_unknown());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `op` on the first element matching `css` once there is one, for at most `WAIT`. It is tried again while
    /// the element is missing, was replaced since it was found (as an htmx swap does), cannot take input yet or is
    /// covered by another (an overlay fading out).
    fn on_element<T, F, Fut>(&self, css: &str, doing: &str, op: F) -> T
    where
        F: Fn(Element) -> Fut,
        Fut: Future<Output = Result<T, CmdError>>,
    {
        let start = Instant::now();
        loop {
            let attempt = self.try_block(async { op(self.client().find(Locator::Css(css)).await?).await });
            let error = match attempt {
                Ok(v) => return v,
                Err(e) => e,
            };
            let again = error.downcast_ref::<CmdError>().is_some_and(|e| {
                e.is_no_such_element()
                    || e.is_stale_element_reference()
                    || e.is_element_not_interactable()
                    || matches!(e, CmdError::Standard(w) if w.error == ErrorStatus::ElementClickIntercepted)
            });
            if !again || start.elapsed() >= WAIT {
                let waited = if again { format!(" after {WAIT:?}") } else { String::new() };
                panic!("`{css}` could not be {doing}{waited} on {}: {error:#}", self.url_or_unknown());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// For failure messages: the page's address, or why it is unknown. Never panics.
    fn url_or_unknown(&self) -> String {
        match self.try_block_for(FAILURE_LIMIT, self.client().current_url()) {
            Ok(url) => url.to_string(),
            Err(e) => format!("(an unknown page: {e:#})"),
        }
    }

    fn try_screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let png = self.try_block_for(FAILURE_LIMIT, self.client().screenshot())?;
        let dir = target_dir().join("console-screens");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Nothing here may panic: a panic while the test is already panicking aborts the whole test binary.
        if std::thread::panicking() && self.client.is_some() {
            match self.try_screenshot(&self.test) {
                Ok(path) => eprintln!("screenshot of {} at the failure: {}", self.url_or_unknown(), path.display()),
                Err(e) => eprintln!("no screenshot at the failure: {e:#}"),
            }
        }
        if let Some(client) = self.client.take() {
            // Ending the session is how chromedriver quits Chromium cleanly.
            let _ = self.rt.block_on(async { tokio::time::timeout(FAILURE_LIMIT, client.close()).await });
        }
        // Whatever is left of Chromium is in chromedriver's process group; `driver` then reaps chromedriver itself.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.pid())])
            .stderr(Stdio::null())
            .status();
    }
}

/// The session's capabilities: Debian's Chromium, headless, with everything that would reach for the internet
/// turned off (the network refuses it, and a test must not depend on it), in a fresh profile, trusting the
/// deployment's own CA (`acceptInsecureCerts`: the server's certificate is signed by a CA Chromium does not know).
fn capabilities(language: &str, profile: &Path) -> fantoccini::wd::Capabilities {
    let args = [
        "--headless",
        // Chromium will not start as root with its sandbox on, and the tests run as root.
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Shared memory in /tmp: /dev/shm is small in containers, and Chromium's tabs crash when it fills.
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        &format!("--lang={language}"),
        &format!("--user-data-dir={}", profile.display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "timeouts": { "pageLoad": WAIT.as_millis() as u64, "script": COMMAND_LIMIT.as_millis() as u64, "implicit": 0 },
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": args,
            // `--lang` sets the UI and navigator.language; the Accept-Language header follows this preference.
            "prefs": { "intl.accept_languages": language },
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("the capabilities are a JSON object"),
    }
}

fn axe_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/support/axe/axe.min.js")
}

/// The workspace's target directory: `CARGO_TARGET_DIR` where it is an absolute path, or else the directory above
/// this test executable that cargo marked as its target directory (`target/<profile>/deps/e2e-…`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).filter(|d| d.is_absolute()) {
        return dir;
    }
    let exe = std::env::current_exe().expect("test executable path");
    let marked = exe.ancestors().find(|dir| dir.join("CACHEDIR.TAG").is_file());
    marked.or_else(|| exe.ancestors().nth(3)).expect("target/<profile>/deps layout").to_owned()
}

/// axe's violations as a failure message: each rule with its help, then each failing element's selector and HTML.
fn axe_report(page: &str, url: &str, violations: &[Value]) -> String {
    let mut report = format!("axe found {} accessibility violation(s) on {page} ({url}):", violations.len());
    for v in violations {
        report += &format!(
            "\n- {} ({}): {}\n  {}",
            v["id"].as_str().unwrap_or("?"),
            v["impact"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or("?"),
            v["helpUrl"].as_str().unwrap_or("")
        );
        for node in v["nodes"].as_array().into_iter().flatten() {
            // An element's HTML is its whole subtree (all of the page, for <html>): its start says which it is.
            let html: String = node["html"].as_str().unwrap_or("?").split_whitespace().collect::<Vec<_>>().join(" ");
            let cut = html.char_indices().nth(200).map_or(html.as_str(), |(i, _)| &html[..i]);
            let more = if cut.len() < html.len() { " …" } else { "" };
            report += &format!("\n    at {}: {cut}{more}", node["target"]);
        }
    }
    report
}

// The harness's own tests, on pages served by `Pages`.

/// What the throwaway server's pages are served under: the policy the console sends.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'";

const GOOD_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Say hello</title><script src="/keys.js" defer></script></head>
<body>
<main>
<h1>Say hello</h1>
<form action="/hello" method="get">
<label for="name">Your name</label> <input id="name" name="name" type="text" value="someone">
<button type="submit">Send</button>
</form>
<p id="keys"></p>
</main>
</body>
</html>"#;

/// Counts the `k` presses the page's body receives: a script from the page's own origin, which the CSP allows.
const KEYS_JS: &str = r#"document.addEventListener('keydown', e => {
    if (e.key === 'k' && e.target === document.body) document.getElementById('keys').textContent += 'k';
});"#;

/// An image without a text alternative, a field without a label, no language, and an inline script the CSP refuses.
const BAD_PAGE: &str = r#"<!doctype html>
<html>
<head><meta charset="utf-8"><title>Bad page</title></head>
<body>
<main>
<h1>Search</h1>
<img src="/pixel.svg">
<input type="text" name="q">
<script>document.title = 'the inline script ran';</script>
</main>
</body>
</html>"#;

const PIXEL_SVG: &str =
    r#"<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect width="16" height="16"/></svg>"#;

/// A web server on 127.0.0.1 answering fixed pages, a thread per connection, every answer under `CSP`. It lives as
/// long as the test process.
struct Pages {
    base: String,
}

impl Pages {
    fn serve() -> Pages {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                std::thread::spawn(move || answer(stream));
            }
        });
        Pages { base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn answer(mut stream: TcpStream) {
    // Chromium opens connections ahead of need and may never use them: those end here, unanswered.
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut request = Vec::new();
    let mut buf = [0; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request);
    let target = request.split_whitespace().nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let header = |name: &str| {
        request
            .lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.trim())
    };
    let (status, kind, body) = match path {
        "/" => ("200 OK", "text/html; charset=utf-8", GOOD_PAGE.to_owned()),
        "/hello" => {
            let name = query.split('&').find_map(|p| p.strip_prefix("name=")).map(form_decode).unwrap_or_default();
            let language = header("Accept-Language").unwrap_or("");
            let body = format!(
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Hello</title></head>\n\
                 <body><main><h1>Hello</h1><p id=\"greeting\">Hello, {}</p><p id=\"language\">{}</p></main></body></html>",
                html_escape(&name),
                html_escape(language)
            );
            ("200 OK", "text/html; charset=utf-8", body)
        }
        "/keys.js" => ("200 OK", "text/javascript", KEYS_JS.to_owned()),
        "/bad" => ("200 OK", "text/html; charset=utf-8", BAD_PAGE.to_owned()),
        // Chromium asks for an icon of its own accord, and logs a missing one as an error.
        "/pixel.svg" | "/favicon.ico" => ("200 OK", "image/svg+xml", PIXEL_SVG.to_owned()),
        _ => ("404 Not Found", "text/plain", "not found".to_owned()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nContent-Security-Policy: {CSP}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
}

/// A form field's value as a GET form sends it: `+` for spaces, `%XX` for the rest.
fn form_decode(value: &str) -> String {
    let mut bytes = Vec::new();
    let mut rest = value.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'+' => bytes.push(b' '),
            b'%' if rest.len() >= 2 => {
                let hex = std::str::from_utf8(&rest[..2]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                bytes.push(hex.unwrap_or(b'?'));
                rest = &rest[2..];
            }
            _ => bytes.push(b),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[test]
fn axe_finds_the_violations_of_a_bad_page_and_none_on_a_good_one_under_a_strict_csp() {
    let pages = Pages::serve();
    let browser = Browser::new();

    browser.goto(&pages.url("/"));
    assert_eq!(browser.wait_for("h1"), "Say hello");
    // The policy is in force: a script element the page is given does not run. axe below runs all the same.
    let inline_ran = browser.execute(
        "const s = document.createElement('script');
         s.textContent = 'window.inlineRan = true;';
         document.head.append(s);
         return window.inlineRan === true;",
        vec![],
    );
    assert_eq!(inline_ran, json!(false), "the page's CSP let an inline script run");
    let errors = browser.console_errors();
    assert!(
        errors.len() == 1 && errors[0].contains("Content Security Policy") && errors[0].contains("inline script"),
        "the console should hold the CSP's refusal, and only that: {errors:?}"
    );
    browser.assert_accessible("the good page");
    assert_eq!(browser.axe(), Vec::<Value>::new());
    assert_eq!(browser.attr("html", "lang").as_deref(), Some("en"));
    assert_eq!(browser.attr("#name", "placeholder"), None);
    assert_eq!(browser.texts("label, button"), ["Your name", "Send"]);
    assert!(browser.texts("img").is_empty());
    assert!(browser.exists("#name"));
    assert!(!browser.exists("img"));

    // A single letter, pressed with nothing focused, reaches the page's own script.
    browser.press("k");
    browser.wait_until("the page to count one k", "document.getElementById('keys').textContent === 'k'");

    // The mouse: the field's own value is replaced, not added to.
    browser.fill("#name", "Ada Lovelace");
    browser.click("button[type=submit]");
    assert_eq!(browser.wait_for("#greeting"), "Hello, Ada Lovelace");
    assert_eq!(browser.current_url(), pages.url("/hello?name=Ada+Lovelace"));
    browser.wait_gone("form");
    assert_eq!(browser.text("#language"), "en-US,en;q=0.9");

    // The keyboard alone: Tab to the field, Ctrl+A over its value, type over it, and Enter sends the form.
    browser.goto(&pages.url("/"));
    browser.press(&Key::Tab);
    assert_eq!(browser.execute("return document.activeElement.id;", vec![]), json!("name"));
    browser.press(&(Key::Control + "a"));
    browser.press("Grace <Hopper> & co");
    browser.press(&Key::Enter);
    assert_eq!(browser.wait_for("#greeting"), "Hello, Grace <Hopper> & co");
    assert_eq!(browser.current_url(), pages.url("/hello?name=Grace+%3CHopper%3E+%26+co"));
    assert_eq!(browser.console_errors(), Vec::<String>::new(), "the good pages logged errors");

    let shot = browser.screenshot("browser-self-test-greeting");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is no screenshot", shot.display());
    assert!(shot.starts_with(target_dir().join("console-screens")));

    browser.goto(&pages.url("/bad"));
    assert_eq!(browser.wait_for("h1"), "Search");
    let violations = browser.axe();
    let ids: Vec<&str> = violations.iter().filter_map(|v| v["id"].as_str()).collect();
    for rule in ["image-alt", "label", "html-has-lang"] {
        assert!(ids.contains(&rule), "axe missed {rule} on the bad page; it found {ids:?}");
    }
    let report = axe_report("the bad page", &browser.current_url(), &violations);
    for expected in ["image-alt (critical): Images must have alternative text", "<img src=\"/pixel.svg\">", "[\"img\"]"]
    {
        assert!(report.contains(expected), "the report lacks {expected:?}:\n{report}");
    }
    assert!(report.contains("<input type=\"text\" name=\"q\">"), "{report}");
    // The CSP refused the page's inline script, and the console says so.
    assert_ne!(browser.execute("return document.title;", vec![]), json!("the inline script ran"));
    let errors = browser.console_errors();
    assert!(
        errors.iter().any(|e| e.contains("Content Security Policy") && e.contains("inline script")),
        "no CSP refusal in the console: {errors:?}"
    );
}

#[test]
fn the_browser_asks_for_pages_in_the_language_it_was_given() {
    let pages = Pages::serve();
    let browser = Browser::with_language("fr-FR");
    browser.goto(&pages.url("/hello?name=Marie"));
    assert_eq!(browser.text("#greeting"), "Hello, Marie");
    let accept = browser.text("#language");
    assert!(accept.starts_with("fr-FR"), "Accept-Language was {accept:?}");
    assert_eq!(browser.execute("return navigator.language;", vec![]), json!("fr-FR"));
}
