//! Checks the 59848 scenario with the restarting kubelet under each named model and the other actors
//! linearizable: `cargo run --release -p themelios-check --example probe -- MODEL...`
use themelios_check::consistency::Consistency;
use themelios_check::{check, scenarios};
fn main() {
    for name in std::env::args().skip(1) {
        let Some(consistency) = Consistency::named(&name) else {
            eprintln!("unknown model {name}; one of {:?}", Consistency::NAMES);
            std::process::exit(2);
        };
        let linear = Consistency::named("linearizable").unwrap_or(consistency);
        let model =
            scenarios::issue_59848().hybrid(|actor| if actor == "kubelet/node-1" { consistency } else { linear });
        let report = check(model, 2);
        println!("{name}: states {} unique {} in {:?}", report.states, report.unique_states, report.elapsed);
        match report.violation {
            Some((why, steps)) => {
                println!("  VIOLATED: {why}");
                for (i, s) in steps.iter().enumerate() {
                    println!("   {:>2}. {s}", i + 1);
                }
            }
            None => println!("  holds"),
        }
    }
}
