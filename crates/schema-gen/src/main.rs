//! `cargo run -p themelios-schema-gen > crates/apiserver/src/schema/k8s.json`: regenerates the schema table.

fn main() -> std::process::ExitCode {
    match themelios_schema_gen::sources().and_then(|(openapi, pb)| themelios_schema_gen::generate(&openapi, &pb)) {
        Ok(table) => {
            print!("{table}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
