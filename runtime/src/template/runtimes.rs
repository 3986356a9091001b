//! AWS Lambda's runtimes, every one AWS lists or has listed (Lambda developer guide,
//! lambda-runtimes: supported and deprecated), and what lockgate does with each: the one
//! table the template loader, the builders and docs/functions.md agree on.
//!
//! An interpreted runtime runs on the exact interpreter when it is present, else on the
//! nearest version present, with a warning naming both (the builders decide, since they find
//! the interpreters). A runtime without a local runner is skipped with a warning that says why;
//! the rest of the template runs.

/// A runtime's language family, and so how lockgate runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `python3.X`: lockgate's Python bootstrap (or AWS's runtime interface client).
    Python,
    /// `nodejsNN.x`: lockgate's Node.js bootstrap.
    Node,
    /// `provided*`: the function's own `bootstrap` (Rust, Go, C, …) or a WASM component.
    Provided,
    /// No local runner: the function is skipped, with why.
    Skipped(&'static str),
}

/// One of Lambda's runtime identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    pub id: &'static str,
    pub family: Family,
    /// The language version (`3.14`, `24`), for the interpreted families.
    pub version: &'static str,
    /// Deprecated by AWS (no new functions on Lambda); lockgate still runs what it can.
    pub deprecated: bool,
}

const JVM: Family = Family::Skipped("lockgate has no local runner for Java functions");
const DOTNET: Family = Family::Skipped("lockgate has no local runner for .NET functions");
const RUBY: Family = Family::Skipped("lockgate has no local runner for Ruby functions");
const GO1X: Family = Family::Skipped(
    "go1.x is retired; build the Go binary as `bootstrap` and use provided.al2023 (it then runs here)",
);
const PYTHON2: Family =
    Family::Skipped("Python 2 code does not run on the Python 3 interpreters lockgate uses");

const fn rt(id: &'static str, family: Family, version: &'static str, deprecated: bool) -> Runtime {
    Runtime {
        id,
        family,
        version,
        deprecated,
    }
}

/// Every Lambda runtime, newest first within a language.
pub const RUNTIMES: &[Runtime] = &[
    rt("nodejs24.x", Family::Node, "24", false),
    rt("nodejs22.x", Family::Node, "22", false),
    rt("nodejs20.x", Family::Node, "20", false),
    rt("nodejs18.x", Family::Node, "18", true),
    rt("nodejs16.x", Family::Node, "16", true),
    rt("nodejs14.x", Family::Node, "14", true),
    rt("nodejs12.x", Family::Node, "12", true),
    rt("nodejs10.x", Family::Node, "10", true),
    rt("nodejs8.10", Family::Node, "8", true),
    rt("nodejs6.10", Family::Node, "6", true),
    rt("nodejs4.3", Family::Node, "4", true),
    rt("nodejs", Family::Node, "0.10", true),
    rt("python3.14", Family::Python, "3.14", false),
    rt("python3.13", Family::Python, "3.13", false),
    rt("python3.12", Family::Python, "3.12", false),
    rt("python3.11", Family::Python, "3.11", false),
    rt("python3.10", Family::Python, "3.10", false),
    rt("python3.9", Family::Python, "3.9", true),
    rt("python3.8", Family::Python, "3.8", true),
    rt("python3.7", Family::Python, "3.7", true),
    rt("python3.6", Family::Python, "3.6", true),
    rt("python2.7", PYTHON2, "2.7", true),
    rt("provided.al2023", Family::Provided, "", false),
    rt("provided.al2", Family::Provided, "", false),
    rt("provided", Family::Provided, "", true),
    rt("java25", JVM, "25", false),
    rt("java21", JVM, "21", false),
    rt("java17", JVM, "17", false),
    rt("java11", JVM, "11", false),
    rt("java8.al2", JVM, "8", false),
    rt("java8", JVM, "8", true),
    rt("dotnet10", DOTNET, "10", false),
    rt("dotnet8", DOTNET, "8", false),
    rt("dotnet7", DOTNET, "7", true),
    rt("dotnet6", DOTNET, "6", true),
    rt("dotnet5.0", DOTNET, "5", true),
    rt("dotnetcore3.1", DOTNET, "3.1", true),
    rt("dotnetcore2.1", DOTNET, "2.1", true),
    rt("dotnetcore2.0", DOTNET, "2.0", true),
    rt("dotnetcore1.0", DOTNET, "1.0", true),
    rt("ruby3.4", RUBY, "3.4", false),
    rt("ruby3.3", RUBY, "3.3", false),
    rt("ruby3.2", RUBY, "3.2", true),
    rt("ruby2.7", RUBY, "2.7", true),
    rt("ruby2.5", RUBY, "2.5", true),
    rt("go1.x", GO1X, "1", true),
];

/// The runtime of this identifier, if Lambda has (or had) it.
pub fn lookup(id: &str) -> Option<&'static Runtime> {
    RUNTIMES.iter().find(|r| r.id == id)
}

/// The versions of a family Lambda runs or ran, newest first (where a requested one is
/// missing locally, the nearest present stands in).
pub fn versions(family: Family) -> impl Iterator<Item = &'static str> {
    RUNTIMES
        .iter()
        .filter(move |r| r.family == family)
        .map(|r| r.version)
}

/// What lockgate does with a runtime, in words (the docs' table).
pub fn what_lockgate_does(runtime: &Runtime) -> String {
    match runtime.family {
        Family::Python => format!(
            "runs on Python {} (python{} on PATH or pyenv's), else on the nearest Python 3 present, with a warning",
            runtime.version, runtime.version
        ),
        Family::Node => format!(
            "runs on the `node` on PATH; a warning when it is not Node.js {}",
            runtime.version
        ),
        Family::Provided => {
            "runs the function's `bootstrap` (a cargo binary, a prebuilt executable) or WASM component"
                .to_string()
        }
        Family::Skipped(why) => format!("skipped with a warning: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identifier_once_and_every_family_known() {
        let mut ids: Vec<&str> = RUNTIMES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RUNTIMES.len());
        assert_eq!(lookup("python3.14").unwrap().family, Family::Python);
        assert_eq!(lookup("nodejs24.x").unwrap().version, "24");
        assert!(lookup("nodejs18.x").unwrap().deprecated);
        assert!(matches!(
            lookup("java21").unwrap().family,
            Family::Skipped(_)
        ));
        assert!(lookup("cobol85").is_none());
        let python: Vec<&str> = versions(Family::Python).collect();
        assert_eq!(python[..2], ["3.14", "3.13"]);
    }

    /// docs/functions.md lists every runtime with what lockgate does for it, from this table.
    #[test]
    fn the_docs_table_is_this_table() {
        let docs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/functions.md"))
                .unwrap();
        for runtime in RUNTIMES {
            let row = format!(
                "| `{}` | {} | {} |",
                runtime.id,
                if runtime.deprecated {
                    "deprecated"
                } else {
                    "supported"
                },
                what_lockgate_does(runtime)
            );
            assert!(docs.contains(&row), "docs/functions.md lacks the row {row}");
        }
    }
}
