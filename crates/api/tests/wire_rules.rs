//! The committed wire rules are what the Go types of the pinned release say: regenerated from the
//! k8s.io/api module by `upstream/tools/wire-rules` and compared byte for byte.
//!
//! Needs Go; without it the test says so and passes, unless `THEMELIOS_REQUIRE_UPSTREAM` is set (CI).

use std::path::Path;
use std::process::Command;

#[test]
fn committed_rules_match_the_go_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let generated = Command::new("go").args(["run", "./tools/wire-rules"]).current_dir(root.join("upstream")).output();
    let generated = match generated {
        Ok(out) if out.status.success() => out.stdout,
        Ok(out) => panic!("go run ./tools/wire-rules failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) if std::env::var_os("THEMELIOS_REQUIRE_UPSTREAM").is_some() => {
            panic!("THEMELIOS_REQUIRE_UPSTREAM is set but Go cannot run: {e}")
        }
        Err(e) => {
            println!("SKIPPED: the wire rules cannot be regenerated without Go ({e})");
            return;
        }
    };
    let committed = std::fs::read(root.join("crates/api/src/wire/rules.json")).expect("the committed rules");
    assert!(
        committed == generated,
        "crates/api/src/wire/rules.json is not what the Go types say; regenerate it with \
         `cd upstream && go run ./tools/wire-rules > ../crates/api/src/wire/rules.json`"
    );
    let rules: serde_json::Value = serde_json::from_slice(&committed).expect("the rules are JSON");
    let versions = std::fs::read_to_string(root.join("upstream/versions.env")).expect("versions.env");
    let kubernetes = versions.lines().find_map(|l| l.strip_prefix("KUBERNETES_VERSION=v1.")).expect("a pinned version");
    assert_eq!(rules["kubernetes"], format!("k8s.io/api v0.{kubernetes}"), "rules from the pinned release");
}
