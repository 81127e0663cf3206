//! `themelios validate`: manifests against the shared API rules, without a cluster.

use std::process::ExitCode;
use themelios_api::manifest::{self, Manifest};
use themelios_api::{apply, ApiState, ApplyContext, Kind, Object, Op, Resource, Time};

/// Arguments of `themelios validate`.
#[derive(clap::Args)]
pub struct Args {
    /// Manifest files (YAML or JSON; several documents per file).
    #[arg(required = true)]
    files: Vec<std::path::PathBuf>,
}

/// Reads manifest files, exiting with code 2 and a message naming the file on failure.
pub fn read_manifests(files: &[std::path::PathBuf]) -> Result<Vec<(String, Manifest)>, String> {
    let mut all = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
        let decoded = manifest::decode(&name, &text).map_err(|e| e.to_string())?;
        all.extend(decoded.into_iter().map(|m| (name.clone(), m)));
    }
    Ok(all)
}

/// The namespaces every cluster starts with.
pub fn base_namespaces() -> Vec<Object> {
    ["default", "kube-system", "kube-node-lease"]
        .iter()
        .map(|name| {
            let mut ns = k8s_openapi::api::core::v1::Namespace::default();
            ns.metadata.name = Some((*name).into());
            ns.into_object()
        })
        .collect()
}

pub fn run(args: Args) -> ExitCode {
    let manifests = match read_manifests(&args.files) {
        Ok(m) => m,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let ctx = ApplyContext { now: Time::EPOCH };
    let mut state = ApiState::default();
    for ns in base_namespaces() {
        if let Ok(change) = apply(&state, &Op::Create(ns), &ctx) {
            let _ = state.commit(&change);
        }
    }
    let mut rejected = 0;
    for (file, m) in manifests {
        let kind = m.object.kind();
        let name = m.object.meta().name.clone().or_else(|| m.object.meta().generate_name.clone()).unwrap_or_default();
        let mut object = m.object.clone();
        if kind.namespaced() && object.meta().namespace.is_none() {
            object.meta_mut().namespace = Some("default".into());
        }
        match apply(&state, &Op::Create(object), &ctx) {
            Ok(change) => {
                let _ = state.commit(&change);
                println!("{file}:{}: {} {name}: valid", m.line, kind_label(kind));
            }
            Err(err) => {
                rejected += 1;
                if err.causes().is_empty() {
                    println!(
                        "{file}:{}: {} {name}: {} ({})",
                        m.line,
                        kind_label(kind),
                        err.message,
                        err.reason.as_str()
                    );
                }
                for cause in err.causes() {
                    let line = m.field_line(&cause.field);
                    println!("{file}:{line}: {} {name}: {}: {}", kind_label(kind), cause.field, cause.message);
                }
            }
        }
    }
    if rejected > 0 {
        eprintln!("{rejected} object(s) rejected");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn kind_label(kind: Kind) -> String {
    kind.qualified_kind()
}
