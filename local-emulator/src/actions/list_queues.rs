//! ListQueues: by prefix, with MaxResults / NextToken paging.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::Context;
use crate::error::{SqsError, SqsResult};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    queue_name_prefix: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    queue_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub async fn handle(ctx: &Context, req: Request) -> SqsResult<Response> {
    let names: Vec<(String, String)> = ctx
        .sqs
        .queues_of(&ctx.region, &ctx.account)
        .into_iter()
        .filter(|q| {
            req.queue_name_prefix
                .as_deref()
                .is_none_or(|p| q.name.starts_with(p))
        })
        .map(|q| (q.name.clone(), ctx.queue_url(&q)))
        .collect();
    let (queue_urls, next_token) = page(names, req.max_results, req.next_token.as_deref())?;
    Ok(Response {
        queue_urls,
        next_token,
    })
}

/// Pages a name-sorted list of (name, url): without MaxResults up to 1,000 and no token.
pub fn page(
    items: Vec<(String, String)>,
    max_results: Option<i64>,
    next_token: Option<&str>,
) -> SqsResult<(Vec<String>, Option<String>)> {
    if let Some(max) = max_results
        && !(1..=1000).contains(&max)
    {
        return Err(SqsError::invalid_value(
            max,
            "MaxResults",
            "MaxResults must be an integer between 1 and 1000.",
        ));
    }
    let after = next_token
        .map(|t| {
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| SqsError::invalid_parameter("Invalid NextToken value."))
        })
        .transpose()?;
    let limit = max_results.unwrap_or(1000) as usize;
    let mut rest = items
        .into_iter()
        .filter(|(name, _)| after.as_ref().is_none_or(|a| name > a))
        .peekable();
    let mut urls = Vec::new();
    let mut last = None;
    while urls.len() < limit {
        let Some((name, url)) = rest.next() else {
            break;
        };
        urls.push(url);
        last = Some(name);
    }
    let token = (max_results.is_some() && rest.peek().is_some())
        .then(|| last.map(|n| URL_SAFE_NO_PAD.encode(n)))
        .flatten();
    Ok((urls, token))
}
