//! Log filtering shared by the binaries: a `RUST_LOG`-style specification (`info`,
//! `warn,scimlet=debug`) parsed without regular expressions, with the crates that handle raw
//! HTTP requests capped at `info` whatever the specification says, so that no log level can
//! make them print an event carrying a request's headers (and so its bearer token).

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{FilterExt, FilterFn, Targets, filter_fn};
use tracing_subscriber::layer::Filter;

/// Target prefixes of the crates whose debug and trace events may show raw requests or
/// responses: the Lambda runtime and its HTTP adapter, the AWS SDK and its smithy runtime,
/// hyper and h2.
const CAPPED: &[&str] = &["lambda_", "aws_", "hyper", "h2"];

/// The filter for a specification (`None`, or one that does not parse: `default`).
pub fn filter<S>(spec: Option<&str>, default: &str) -> impl Filter<S> + use<S>
where
    S: tracing::Subscriber,
{
    let targets = spec
        .and_then(|s| s.parse::<Targets>().ok())
        .or_else(|| default.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(Level::INFO));
    targets.and(header_safe())
}

/// Installs the Lambda functions' logging: JSON lines (CloudWatch parses them), no ANSI
/// colours, filtered by `RUST_LOG` through [`filter`] (default `info`).
pub fn init_lambda_json() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let spec = std::env::var("RUST_LOG").ok();
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_ansi(false);
    tracing_subscriber::registry()
        .with(tracing_subscriber::Layer::with_filter(
            layer,
            filter(spec.as_deref(), "info"),
        ))
        .init();
}

fn header_safe() -> FilterFn<fn(&Metadata<'_>) -> bool> {
    filter_fn(|meta: &Metadata<'_>| {
        *meta.level() <= Level::INFO || !CAPPED.iter().any(|c| meta.target().starts_with(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let meta = event.metadata();
            if let Ok(mut seen) = self.0.lock() {
                seen.push(format!("{} {}", meta.level(), meta.target()));
            }
        }
    }

    #[test]
    fn request_handling_crates_never_log_below_info() {
        let seen = Seen::default();
        let layer =
            tracing_subscriber::Layer::with_filter(seen.clone(), filter(Some("trace"), "info"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "lambda_runtime::layers", "an event with headers");
            tracing::trace!(target: "hyper::proto", "raw bytes");
            tracing::info!(target: "lambda_runtime", "kept");
            tracing::debug!(target: "scimlet::ops", "kept too");
        });
        let seen = seen.0.lock().unwrap().clone();
        assert_eq!(seen, vec!["INFO lambda_runtime", "DEBUG scimlet::ops"]);
    }

    #[test]
    fn a_bad_specification_falls_back_to_the_default() {
        let seen = Seen::default();
        let layer =
            tracing_subscriber::Layer::with_filter(seen.clone(), filter(Some("=[bad"), "warn"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "scimlet", "dropped");
            tracing::warn!(target: "scimlet", "kept");
        });
        assert_eq!(seen.0.lock().unwrap().clone(), vec!["WARN scimlet"]);
    }
}
