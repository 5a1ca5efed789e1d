//! The technician CLI's side of the HTTPS API: it trusts only the deployment's CA, and reads every answer into the
//! API's own view types, so a field the server renamed is an error here, not a blank column.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use lifeline_server::api::views::LoginView;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::args::ApiArgs;

pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: String,
    /// Print the API's JSON rather than a summary.
    pub json: bool,
}

/// An HTTPS client that trusts only the deployment's CA.
fn https(ca: &Path) -> Result<ureq::Agent> {
    let pem = std::fs::read(ca).with_context(|| format!("reading CA certificate {}", ca.display()))?;
    let ca = ureq::tls::parse_pem(&pem)
        .find_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .ok_or_else(|| anyhow!("{} holds no PEM certificate", ca.display()))?;
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![ca]))).build();
    Ok(ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().new_agent())
}

/// The server's answer read as `T`, or its error message with the status.
fn answer<T: DeserializeOwned>(url: &str, mut response: ureq::http::Response<ureq::Body>) -> Result<T> {
    let status = response.status();
    let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    if !status.is_success() {
        let message = value.get("error").and_then(Value::as_str).unwrap_or("no error message");
        // A 409 for a ticket that moved on carries what the person missed: shown, so they can decide.
        let missed: Vec<String> = value
            .get("missed")
            .and_then(Value::as_array)
            .map(|events| events.iter().map(|e| format!("\n  missed: {e}")).collect())
            .unwrap_or_default();
        bail!("server answered {status}: {message}{}", missed.concat());
    }
    serde_json::from_value(value).with_context(|| format!("the answer of {url} is not what this CLI expects"))
}

/// Trades a name and password for a token that lasts a working day.
pub fn login(api: &str, ca: &Path, user: &str, password: &str) -> Result<LoginView> {
    let url = format!("{}/api/login", api.trim_end_matches('/'));
    let response = https(ca)?
        .post(&url)
        .send_json(serde_json::json!({ "user": user, "password": password }))
        .with_context(|| format!("calling {url}"))?;
    answer(&url, response).context("login refused")
}

impl Client {
    pub fn new(args: &ApiArgs) -> Result<Client> {
        Ok(Client {
            agent: https(&args.ca)?,
            base: args.api.trim_end_matches('/').to_owned(),
            token: args.token.clone(),
            json: args.json,
        })
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = format!("{}{}", self.base, path);
        let response = self
            .agent
            .get(&url)
            .header("authorization", &self.auth())
            .call()
            .with_context(|| format!("calling {url}"))?;
        answer(&url, response)
    }

    pub fn post<T: DeserializeOwned>(&self, path: &str, body: Option<Value>) -> Result<T> {
        let url = format!("{}{}", self.base, path);
        let request = self.agent.post(&url).header("authorization", &self.auth());
        let response = match body {
            Some(body) => request.send_json(body),
            None => request.send_empty(),
        };
        answer(&url, response.with_context(|| format!("calling {url}"))?)
    }

    /// A GET answered as CSV text (`Accept: text/csv`).
    pub fn get_csv(&self, path: &str) -> Result<String> {
        let url = format!("{}{}", self.base, path);
        let mut response = self
            .agent
            .get(&url)
            .header("authorization", &self.auth())
            .header("accept", "text/csv")
            .call()
            .with_context(|| format!("calling {url}"))?;
        let status = response.status();
        let text = response.body_mut().read_to_string().with_context(|| format!("reading the answer of {url}"))?;
        if !status.is_success() {
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let message = value.get("error").and_then(Value::as_str).unwrap_or("no error message");
            bail!("server answered {status}: {message}");
        }
        Ok(text)
    }

    /// A GET answered with a file's bytes, at most `limit` of them.
    pub fn get_bytes(&self, path: &str, limit: u64) -> Result<Vec<u8>> {
        let url = format!("{}{}", self.base, path);
        let mut response = self
            .agent
            .get(&url)
            .header("authorization", &self.auth())
            .call()
            .with_context(|| format!("calling {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
            let message = value.get("error").and_then(Value::as_str).unwrap_or("no error message");
            bail!("server answered {status}: {message}");
        }
        response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .with_context(|| format!("reading the answer of {url}"))
    }

    pub fn put<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T> {
        let url = format!("{}{}", self.base, path);
        let response = self.agent.put(&url).header("authorization", &self.auth()).send_json(body);
        answer(&url, response.with_context(|| format!("calling {url}"))?)
    }

    pub fn patch<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T> {
        let url = format!("{}{}", self.base, path);
        let response = self.agent.patch(&url).header("authorization", &self.auth()).send_json(body);
        answer(&url, response.with_context(|| format!("calling {url}"))?)
    }

    /// A DELETE, whose answer may be empty (204).
    pub fn delete(&self, path: &str) -> Result<Value> {
        let url = format!("{}{}", self.base, path);
        let response = self.agent.delete(&url).header("authorization", &self.auth()).call();
        answer(&url, response.with_context(|| format!("calling {url}"))?)
    }

    /// Follows a Server-Sent Events route, handing each event's data to `on_data` until it returns false or the
    /// stream ends.
    pub fn follow(&self, path: &str, mut on_data: impl FnMut(&str) -> Result<bool>) -> Result<()> {
        let url = format!("{}{}", self.base, path);
        let mut response = self
            .agent
            .get(&url)
            .header("authorization", &self.auth())
            .header("accept", "text/event-stream")
            .call()
            .with_context(|| format!("calling {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
            let message = value.get("error").and_then(Value::as_str).unwrap_or("no error message");
            bail!("server answered {status}: {message}");
        }
        let reader = std::io::BufReader::new(response.into_body().into_reader());
        for line in std::io::BufRead::lines(reader) {
            let line = line.context("reading the live stream")?;
            if let Some(data) = line.strip_prefix("data:")
                && !on_data(data.trim_start())?
            {
                break;
            }
        }
        Ok(())
    }

    /// The answer as the API's JSON with `--json`, else as `human` renders it.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) -> Result<()> {
        if self.json {
            println!("{:#}", serde_json::to_value(value)?);
        } else {
            print!("{}", human(value));
        }
        Ok(())
    }
}

/// The password from standard input; at a terminal it asks, and the typing is not echoed.
pub fn read_password() -> Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let saved = if stdin.is_terminal() {
        eprint!("password: ");
        let saved = tcgetattr(&stdin).context("reading the terminal's settings")?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("turning off echo")?;
        Some(saved)
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    if let Some(saved) = saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
        eprintln!();
    }
    read.context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
