//! `themelios apiserver`: the Kubernetes-compatible API server on the embedded durable store.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use themelios_apiserver::serve::{start, Options};

/// Arguments of `themelios apiserver`.
#[derive(clap::Args)]
pub struct Args {
    /// Where the store, the certificates, the admin token and the kubeconfig live (created if absent).
    #[arg(long, default_value = "themelios-data")]
    data_dir: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The HTTPS port (0 picks a free one).
    #[arg(long, default_value_t = 6443)]
    port: u16,
    /// Also serve plain HTTP without authentication on this loopback port (for tests; 0 picks one).
    #[arg(long)]
    insecure_port: Option<u16>,
    #[command(flatten)]
    security: SecurityArgs,
}

/// Who may connect and what is sealed on disk: flags shared by `apiserver` and `cluster`.
#[derive(clap::Args, Clone, Debug)]
pub struct SecurityArgs {
    /// Users' bearer tokens: a CSV file of `token,user,uid,"group1,group2"` lines (upstream's format).
    /// The data directory's admin token always works.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Encrypt resources on disk as this `EncryptionConfiguration` says (upstream's format; providers
    /// aesgcm and identity).
    #[arg(long)]
    encryption_provider_config: Option<PathBuf>,
}

impl SecurityArgs {
    /// Sets these in the server's options.
    pub fn configure(&self, options: &mut Options) {
        options.token_auth_file = self.token_auth_file.clone();
        options.encryption_provider_config = self.encryption_provider_config.clone();
    }
}

/// Starts the server and serves until Ctrl-C.
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let mut options = Options::new(&args.data_dir);
        options.bind = args.bind;
        options.port = args.port;
        options.insecure_port = args.insecure_port;
        args.security.configure(&mut options);
        let running = match start(options).await {
            Ok(running) => running,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        println!("serving https://{} (data in {})", running.secure, args.data_dir.display());
        if let Some(insecure) = running.insecure {
            println!("serving plain http://{insecure} without authentication");
        }
        // An absolute path, so the printed export line works from any directory.
        let kubeconfig = std::fs::canonicalize(&running.kubeconfig).unwrap_or_else(|_| running.kubeconfig.clone());
        println!("kubeconfig: {}", kubeconfig.display());
        println!("export KUBECONFIG={}", kubeconfig.display());
        let _ = tokio::signal::ctrl_c().await;
        println!("shutting down");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}
