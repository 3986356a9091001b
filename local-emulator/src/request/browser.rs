//! The browser rules: which web pages may call the emulator, and CORS for those that may.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ErrorCode, SqsError};
use crate::shared::Shared;

/// Browsers must not drive the emulator from other sites' pages: SDKs and CLIs send neither
/// `Origin` nor `Sec-Fetch-*`, browsers do. A request with an `Origin` is served only from the
/// emulator's own origin or an `--allow-origin` one; a browser request without one (a
/// cross-site `<img>` or link, which carries `Sec-Fetch-Site`, or an old browser's navigation,
/// which asks for HTML or images) is refused. Returns the allowed origin to answer with CORS.
pub(super) fn check(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<String>, SqsError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let refused = |why: String| SqsError::new(ErrorCode::AccessDenied, why);
    let host = text("host").unwrap_or_default();
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let allowed = shared
            .allowed_origins
            .iter()
            .any(|o| o == origin || o == "*");
        let own = is_local_host(host)
            && (origin == format!("http://{host}") || origin == format!("https://{host}"));
        if own || allowed {
            return Ok((!own).then(|| origin.to_string()));
        }
        return Err(refused(format!(
            "Requests from the web page at {origin} are refused: start the emulator with --allow-origin {origin} to let that page call it."
        )));
    }
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" && site != "none" {
            return Err(refused(format!(
                "A {site} browser request without an Origin is refused."
            )));
        }
        if !is_local_host(host) {
            return Err(refused(format!(
                "A browser request for the host {host} is refused: open the emulator as localhost or by its IP address."
            )));
        }
    }
    let browser_get = *method == Method::GET
        && uri.query().is_some_and(|q| q.contains("Action="))
        && text("accept").is_some_and(|a| a.contains("text/html") || a.contains("image/"));
    if browser_get {
        return Err(refused(
            "A browser navigation or image request cannot run an action.".to_string(),
        ));
    }
    Ok(None)
}

/// Whether a browser may reach the emulator by this `Host`: loopback names and IP literals.
/// A page from any other name that resolves here (DNS rebinding) would be same-origin with
/// the emulator, so browser requests naming another host are refused.
fn is_local_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(ip, _)| ip)
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// A CORS preflight from an allowed origin.
pub(super) fn preflight(origin: Option<&str>, headers: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if origin.is_some() {
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

/// The CORS headers of a reply to an allowed origin other than the emulator's own.
pub(super) fn allow(response: &mut Response, origin: &str) {
    let Ok(value) = HeaderValue::from_str(origin) else {
        return;
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-amzn-requestid, x-amzn-query-error, x-amzn-errortype"),
    );
}
