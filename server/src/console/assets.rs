//! The console's scripts and styles, compiled into the binary, gzipped once when first asked for, and served under a
//! path naming their content's hash: a browser keeps them for a year, and a new build's pages ask for new paths.

use std::io::Write;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../console/assets/console.css"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../console/assets/console.js"),
    },
    // htmx 2.0.11 from the npm registry, unchanged; its licence (0BSD) is beside it.
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../console/assets/htmx.min.js"),
    },
    // The machine page's charts and the styles of the machines' pages, loaded only there.
    Asset {
        name: "machine.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../console/assets/machine.js"),
    },
    Asset {
        name: "machines.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../console/assets/machines.css"),
    },
    // uPlot 1.6.32 from the npm registry, unchanged; its licence (MIT) is beside it. It styles what it draws through
    // the CSSOM only, which the console's `style-src 'self'` allows, and evaluates no text.
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../console/assets/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../console/assets/uPlot.min.css"),
    },
];

struct Built {
    version: String,
    gzipped: Vec<Vec<u8>>,
}

static BUILT: LazyLock<Built> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in ASSETS {
        hash.update(asset.name);
        hash.update(asset.bytes);
    }
    let version = hex::encode(hash.finalize())[..12].to_owned();
    let gzipped = ASSETS
        .iter()
        .map(|a| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            // Writing into a Vec cannot fail; were it to, the plain bytes are served instead.
            gz.write_all(a.bytes).and_then(|()| gz.finish()).unwrap_or_default()
        })
        .collect();
    Built { version, gzipped }
});

/// What the pages put in the assets' paths.
pub fn version() -> &'static str {
    &BUILT.version
}

pub async fn serve(Path((version, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some((i, asset)) = ASSETS.iter().enumerate().find(|(_, a)| a.name == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    // A page of an older build asks for its version: it gets today's, but not for keeps.
    let cache = if version == BUILT.version { "public, max-age=31536000, immutable" } else { "no-cache" };
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().split(';').next() == Some("gzip")));
    let gzipped = BUILT.gzipped.get(i).filter(|g| gzip && !g.is_empty());
    let mut response = match gzipped {
        Some(g) => ([(header::CONTENT_ENCODING, "gzip")], g.clone()).into_response(),
        None => asset.bytes.into_response(),
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}
