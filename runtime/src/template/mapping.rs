//! Event source mappings: a function's `SQS` event, or an `AWS::Lambda::EventSourceMapping`
//! naming the function — batching, partial batch responses, scaling, filters — with the
//! rules CreateEventSourceMapping applies.

use anyhow::{Context, bail};
use serde_yaml_ng::Value;

use super::{Expr, Scaling, SqsEvent, Template};
use lockgate_emulator::template::{boolean, ranged};

pub(super) fn parse_sqs_event(_name: &str, p: &Value) -> anyhow::Result<SqsEvent> {
    let queue =
        Expr::parse(p.get("Queue").context("Queue is required")?).map_err(anyhow::Error::msg)?;
    let batch_size = ranged(p, "BatchSize", 1, 10_000)?.unwrap_or(10);
    let window_s = ranged(p, "MaximumBatchingWindowInSeconds", 0, 300)?.unwrap_or(0);
    if batch_size > 10 && window_s == 0 {
        // CreateEventSourceMapping's own wording.
        bail!(
            "BatchSize {batch_size}: Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        );
    }
    let report_batch_item_failures = match p.get("FunctionResponseTypes") {
        Some(Value::Sequence(types)) => {
            for t in types {
                if t.as_str() != Some("ReportBatchItemFailures") {
                    bail!(
                        "FunctionResponseTypes: only ReportBatchItemFailures is valid, got {t:?}"
                    );
                }
            }
            !types.is_empty()
        }
        None => false,
        Some(other) => bail!("FunctionResponseTypes must be a list, got {other:?}"),
    };
    let max_concurrency = match p.get("ScalingConfig") {
        Some(scaling) => ranged(scaling, "MaximumConcurrency", 2, 1000)?,
        None => None,
    };
    let scaling = match p.get("ProvisionedPollerConfig") {
        None => Scaling::OnDemand { max_concurrency },
        Some(_) if max_concurrency.is_some() => bail!(
            "ProvisionedPollerConfig and ScalingConfig.MaximumConcurrency cannot be used together: provisioned mode sets the pollers, MaximumConcurrency is for on-demand scaling"
        ),
        Some(provisioned) => {
            // SQS mappings: MinimumPollers 2–200 (default 2), MaximumPollers 2–10,000
            // (default 200).
            let minimum = ranged(provisioned, "MinimumPollers", 2, 200)?.unwrap_or(2);
            let maximum = ranged(provisioned, "MaximumPollers", 2, 10_000)?.unwrap_or(200);
            if minimum > maximum {
                bail!(
                    "ProvisionedPollerConfig: MinimumPollers {minimum} is above MaximumPollers {maximum}"
                );
            }
            Scaling::Provisioned { minimum, maximum }
        }
    };
    let mut filters = Vec::new();
    if let Some(list) = p
        .get("FilterCriteria")
        .and_then(|f| f.get("Filters"))
        .and_then(Value::as_sequence)
    {
        for filter in list {
            let pattern = filter
                .get("Pattern")
                .and_then(Value::as_str)
                .context("each filter needs a Pattern string")?;
            let json: serde_json::Value = serde_json::from_str(pattern)
                .with_context(|| format!("filter pattern {pattern:?} is not JSON"))?;
            crate::filter::check_pattern(&json)
                .map_err(|e| anyhow::anyhow!("filter pattern {pattern}: {e}"))?;
            filters.push(json);
        }
        if filters.len() > 5 {
            bail!(
                "FilterCriteria allows at most 5 filters, got {}",
                filters.len()
            );
        }
    }
    Ok(SqsEvent {
        name: _name.to_string(),
        queue,
        batch_size,
        window_s,
        report_batch_item_failures,
        scaling,
        filters,
        enabled: boolean(p, "Enabled")?.unwrap_or(true),
    })
}

impl Template {
    /// An `AWS::Lambda::EventSourceMapping` becomes an SQS event of the function it names
    /// (`FunctionName`: a `Ref` or `GetAtt` of the function, its name or its logical id).
    /// Mappings of other event sources, or of functions skipped for their runtime, are noted.
    pub(super) fn add_event_source_mapping(
        &mut self,
        id: &str,
        props: &Value,
    ) -> anyhow::Result<()> {
        let function = props
            .get("FunctionName")
            .context("FunctionName is required")?;
        let function = Expr::parse(function).map_err(anyhow::Error::msg)?;
        let target = match &function {
            Expr::Ref(target) | Expr::GetAtt(target, _) => target.clone(),
            Expr::Literal(name) => {
                let name = name.rsplit(':').next().unwrap_or(name);
                self.functions
                    .iter()
                    .find(|(logical, f)| f.name == name || *logical == name)
                    .map(|(logical, _)| logical.clone())
                    .unwrap_or_else(|| name.to_string())
            }
            other => bail!("FunctionName {other:?} does not name a function"),
        };
        if self.unsupported.iter().any(|u| u.logical_id == target) {
            self.skipped.push((
                id.to_string(),
                format!("AWS::Lambda::EventSourceMapping of {target}, whose runtime is skipped"),
            ));
            return Ok(());
        }
        let source = props
            .get("EventSourceArn")
            .context("EventSourceArn is required (lockgate runs SQS event sources)")?;
        if let Ok(Expr::Literal(arn)) = Expr::parse(source)
            && !arn.contains(":sqs:")
        {
            self.skipped.push((
                id.to_string(),
                format!("AWS::Lambda::EventSourceMapping of {arn}, not an SQS queue"),
            ));
            return Ok(());
        }
        let mut sam = props.as_mapping().cloned().unwrap_or_default();
        sam.insert(Value::from("Queue"), source.clone());
        let event = parse_sqs_event(id, &Value::Mapping(sam))?;
        let function = self
            .functions
            .get_mut(&target)
            .with_context(|| format!("FunctionName {target} is not a function of this template"))?;
        function.events.push(event);
        Ok(())
    }
}
