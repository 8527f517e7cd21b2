//! The `scimlet` command: run the server locally, and manage tables, tenants and tokens.
//! Only wiring lives here: argument parsing (clap), logging set-up, and one call into the
//! library per command.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use scimlet::admin;
use scimlet::domain::ResourceKind;
use scimlet::domain::{TenantId, TenantSettings};
use scimlet::events;
use scimlet::store::dynamo::{DynamoStore, TableCreation, connect, create_table};
use scimlet::store::memory::MemoryStore;
use scimlet::store::{Directory, ResourceStore, SetupProblem, StoreError};
use scimlet::{App, Config};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Parser)]
#[command(
    name = "scimlet",
    version,
    about = "A multi-tenant SCIM 2.0 server for AWS Lambda and DynamoDB"
)]
struct Cli {
    /// How `tenant` and `token` commands print their results: text for people, JSON (one
    /// document on standard output) for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

/// The output format of the administrative commands.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Text,
    Json,
}

impl Output {
    /// Prints `json` in JSON mode, else `text`.
    fn print(self, text: impl FnOnce() -> String, json: impl FnOnce() -> serde_json::Value) {
        match self {
            Output::Text => {
                let text = text();
                if !text.is_empty() {
                    println!("{text}");
                }
            }
            Output::Json => println!("{}", json()),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the SCIM server locally: on the embedded in-memory store, or with --dynamodb on a
    /// DynamoDB table (SCIMLET_TABLE / SCIMLET_DYNAMODB_ENDPOINT are read only then).
    Serve(ServeArgs),
    /// Manage the DynamoDB table.
    Table {
        #[command(subcommand)]
        command: TableCommand,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Manage a tenant's bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Restore a soft-deleted user or group (tenants with --soft-delete true).
    Restore {
        /// Tenant id.
        tenant: String,
        /// Resource type.
        #[arg(value_parser = ["User", "Group"])]
        resource_type: String,
        /// The resource's id.
        id: String,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// Bring a table written by an earlier scimlet up to date.
    Migrate {
        #[command(subcommand)]
        command: MigrateCommand,
    },
}

#[derive(Subcommand)]
enum MigrateCommand {
    /// Build the externalId lookup index of a tenant created before it existed (until then
    /// the tenant keeps externalId unique). Safe while the server runs; safe to run again.
    ExternalIdIndex {
        /// Tenant id.
        tenant: String,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
}

/// Where the DynamoDB table is.
#[derive(Args, Clone)]
struct DynamoArgs {
    /// DynamoDB table name.
    #[arg(long, env = "SCIMLET_TABLE", default_value = "scimlet")]
    table: String,
    /// DynamoDB endpoint URL (e.g. DynamoDB Local); the AWS default when absent.
    #[arg(long, env = "SCIMLET_DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
    /// AWS region (defaults to the AWS configuration chain).
    #[arg(long)]
    region: Option<String>,
}

impl DynamoArgs {
    /// A store on the table, not yet checked (for `table create`).
    async fn connect(&self) -> DynamoStore {
        let client = connect(self.dynamodb_endpoint.as_deref(), self.region.as_deref()).await;
        DynamoStore::new(client, self.table.clone())
    }

    /// A store on the table, checked to be reachable: a missing table, region or credentials
    /// or a denied action is an error saying what to do.
    async fn store(&self) -> Result<DynamoStore, Box<dyn std::error::Error>> {
        let store = self.connect().await;
        let Some(region) = store.region() else {
            return Err(
                "no AWS region is configured: pass --region, or set AWS_REGION \
                        (or a profile's region)"
                    .into(),
            );
        };
        match store.probe().await {
            Ok(()) => Ok(store),
            Err(StoreError::Setup(problem)) => Err(self.explain(problem, &region).into()),
            Err(other) => Err(format!(
                "cannot reach DynamoDB table '{}' in {region}: {other}",
                self.table
            )
            .into()),
        }
    }

    fn explain(&self, problem: SetupProblem, region: &str) -> String {
        let table = &self.table;
        let at = self
            .dynamodb_endpoint
            .as_deref()
            .map_or_else(|| format!("region {region}"), ToOwned::to_owned);
        match problem {
            SetupProblem::TableMissing => format!(
                "DynamoDB table '{table}' does not exist at {at}. Name the table with --table \
                 or SCIMLET_TABLE (a SAM stack's table is its TableName output), check the \
                 region (--region, AWS_REGION), or create one with `scimlet table create`."
            ),
            SetupProblem::AccessDenied => format!(
                "access to DynamoDB table '{table}' at {at} was denied: the credentials in use \
                 lack an action scimlet needs. Attach the stack's OperatorPolicy (output \
                 OperatorPolicyArn) to your role or user."
            ),
            SetupProblem::NoCredentials => format!(
                "no AWS credentials were found for table '{table}' at {at}: configure them \
                 (AWS_PROFILE, `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or \
                 pass --dynamodb-endpoint for DynamoDB Local."
            ),
            SetupProblem::InvalidCredentials => format!(
                "AWS rejected the credentials used for table '{table}' at {at} (invalid, \
                 expired, or for another partition): refresh them (e.g. `aws sso login`)."
            ),
        }
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve from a DynamoDB table instead of the embedded store. Only this flag selects
    /// DynamoDB: exported SCIMLET_TABLE / SCIMLET_DYNAMODB_ENDPOINT are read only with it.
    #[arg(long)]
    dynamodb: bool,
    /// With --dynamodb: the endpoint (e.g. DynamoDB Local; default: SCIMLET_DYNAMODB_ENDPOINT,
    /// else AWS).
    #[arg(long, requires = "dynamodb")]
    dynamodb_endpoint: Option<String>,
    /// With --dynamodb: the table (default: SCIMLET_TABLE, else "scimlet").
    #[arg(long, requires = "dynamodb")]
    table: Option<String>,
    /// With --dynamodb: the AWS region.
    #[arg(long, requires = "dynamodb")]
    region: Option<String>,
    /// With --dynamodb: create the table first if it does not exist.
    #[arg(long, requires = "dynamodb")]
    create_table: bool,
    /// On the embedded store: the tenant created at start.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// On the embedded store: print the change events your application would receive (from
    /// the EventBridge bus in AWS), one JSON object per line. Only `stdout` is accepted.
    #[arg(long, value_name = "stdout", conflicts_with_all = ["dynamodb", "events_url"], value_parser = ["stdout"])]
    events: Option<String>,
    /// On the embedded store: POST each change event to this URL, signed with
    /// --events-secret (header Scimlet-Signature), retried on failure.
    #[arg(long, value_name = "URL", conflicts_with = "dynamodb")]
    events_url: Option<http::Uri>,
    /// The HMAC-SHA256 key signing events sent to --events-url (default: a random one,
    /// printed at start).
    #[arg(
        long,
        env = "SCIMLET_EVENTS_SECRET",
        requires = "events_url",
        hide_env_values = true
    )]
    events_secret: Option<String>,
}

#[derive(Subcommand)]
enum TableCommand {
    /// Create the table (PK/SK, GSI1, streams, TTL); does nothing if it exists.
    Create(DynamoArgs),
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant (id: lowercase letters, digits and '-').
    Create {
        /// Tenant id.
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// Change a tenant's settings (running servers see it within their token cache TTL).
    Set {
        /// Tenant id.
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// List tenants with their settings.
    List(DynamoArgs),
    /// Show a tenant's recent activity, newest first: every error (time, operation, status,
    /// scimType, reason) and sampled successes (one per operation and minute).
    Activity {
        /// Tenant id.
        name: String,
        /// Only errors.
        #[arg(long)]
        errors: bool,
        /// How many entries at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// Create a setup link: an expiring URL of the setup page where the tenant's IT admin
    /// issues a token and follows their identity provider's steps (needs the admin API
    /// deployed: AdminApi=true).
    SetupLink {
        /// Tenant id.
        name: String,
        /// Days the link stays valid.
        #[arg(long, default_value_t = 7)]
        valid_days: u32,
        /// The SCIM base URL of the deployment (the stack's ScimBaseUrl output); the link is
        /// made beside it.
        #[arg(long, env = "SCIMLET_PUBLIC_URL")]
        url: String,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// Revoke a setup link (its page then says so).
    RevokeSetupLink {
        /// Tenant id.
        name: String,
        /// The link's id.
        link: String,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// Show one tenant: its settings and its tokens.
    Show {
        /// Tenant id.
        name: String,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// Delete a tenant with its tokens and all its users and groups.
    Delete {
        /// Tenant id.
        name: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
}

/// Per-tenant compatibility switches (unset: left as they are, or the default on create).
#[derive(Args)]
struct SettingsArgs {
    /// Reject attributes no schema defines (400 invalidValue) instead of ignoring them
    /// (default: false).
    #[arg(long)]
    strict_attributes: Option<bool>,
    /// Keep group displayName unique, case-insensitively (default: true; Entra matches groups
    /// by it).
    #[arg(long)]
    unique_group_names: Option<bool>,
    /// DELETE marks users and groups deleted (404, names released, restorable) instead of
    /// removing them (default: false).
    #[arg(long)]
    soft_delete: Option<bool>,
    /// A group PATCH always answers 204 No Content (default: false: 200 with the group up to
    /// SCIMLET_GROUP_RESPONSE_MAX_MEMBERS members; Entra recommends 204 for groups).
    #[arg(long)]
    group_patch_no_content: Option<bool>,
    /// Drop incoming passwords unread, like an unknown attribute: no argon2id hash, and
    /// /ServiceProviderConfig says changePassword is not supported (default: false; for IdPs
    /// such as Okta that send a random password with every create).
    #[arg(long)]
    ignore_passwords: Option<bool>,
    /// Keep externalId unique per resource type, 409 uniqueness for a second resource with
    /// the same value (default: false, as RFC 7643 asks no uniqueness of it; tenants created
    /// before the externalId index existed keep true until `scimlet migrate external-id-index`).
    #[arg(long)]
    unique_external_ids: Option<bool>,
}

impl SettingsArgs {
    fn apply(&self, settings: &mut TenantSettings) {
        if let Some(v) = self.strict_attributes {
            settings.strict_attributes = v;
        }
        if let Some(v) = self.unique_group_names {
            settings.unique_group_names = v;
        }
        if let Some(v) = self.soft_delete {
            settings.soft_delete = v;
        }
        if let Some(v) = self.group_patch_no_content {
            settings.group_patch_no_content = v;
        }
        if let Some(v) = self.ignore_passwords {
            settings.ignore_passwords = v;
        }
        if let Some(v) = self.unique_external_ids {
            settings.unique_external_ids = v;
        }
    }
}

fn describe(settings: &TenantSettings) -> String {
    format!(
        "strict-attributes={} unique-group-names={} soft-delete={} group-patch-no-content={} \
         ignore-passwords={} unique-external-ids={} external-id-index={}",
        settings.strict_attributes,
        settings.unique_group_names,
        settings.soft_delete,
        settings.group_patch_no_content,
        settings.ignore_passwords,
        settings.unique_external_ids,
        settings.external_id_index
    )
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a token and print it (once: only its hash is stored).
    Issue {
        /// Tenant id.
        tenant: String,
        /// A label to recognise the token by (e.g. "okta-prod").
        #[arg(long)]
        label: Option<String>,
        /// Days until the token expires.
        #[arg(long, default_value_t = admin::DEFAULT_TOKEN_DAYS, conflicts_with = "no_expiry")]
        expires_in_days: u32,
        /// Issue a token that never expires.
        #[arg(long)]
        no_expiry: bool,
        /// The SCIM base URL to show next to the token (a SAM stack's ScimBaseUrl output).
        #[arg(long, env = "SCIMLET_PUBLIC_URL")]
        url: Option<String>,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// List a tenant's tokens: id, created, expires, last used, label; expired tokens are
    /// marked (they stay until `token prune`, or 90 days after expiry).
    List {
        /// Tenant id.
        tenant: String,
        /// Only tokens that expire within this time (e.g. 30d, 12h): what needs rotation.
        #[arg(long, value_parser = parse_duration)]
        expiring_within: Option<i64>,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// Rotate a token with no gap: issue its successor (printed once, like `token issue`) and
    /// let the old one expire after the overlap.
    Rotate {
        /// Tenant id.
        tenant: String,
        /// The token to replace.
        token_id: String,
        /// How long the old token keeps working (e.g. 7d, 12h, 0s).
        #[arg(long, default_value = "7d", value_parser = parse_duration)]
        overlap: i64,
        /// Days until the new token expires.
        #[arg(long, default_value_t = admin::DEFAULT_TOKEN_DAYS)]
        expires_in_days: u32,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// Delete a tenant's expired tokens.
    Prune {
        /// Tenant id.
        tenant: String,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
    /// Revoke a token by id.
    Revoke {
        /// Tenant id.
        tenant: String,
        /// Token id (the 16 hex characters after `scimlet_`).
        token_id: String,
        #[command(flatten)]
        dynamo: DynamoArgs,
    },
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// Parses `7d`, `12h`, `30m`, `45s` (a whole number and a unit) into seconds.
fn parse_duration(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("'{raw}': give a unit (d, h, m or s), e.g. 7d"))?;
    let (number, unit) = raw.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("'{raw}': expected a whole number before the unit"))?;
    let unit = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("'{raw}': the unit is d, h, m or s")),
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("'{raw}' is too long"))
}

fn tenant_id(raw: &str) -> Result<TenantId, Box<dyn std::error::Error>> {
    TenantId::new(raw).map_err(|e| format!("'{raw}': {e}").into())
}

#[tokio::main]
async fn main() -> ExitCode {
    let spec = std::env::var("SCIMLET_LOG").ok();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    tracing_subscriber::registry()
        .with(tracing_subscriber::Layer::with_filter(
            layer,
            scimlet::logging::filter(spec.as_deref(), "warn,scimlet=info"),
        ))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Table { command } => table(command).await,
        Command::Tenant { command } => tenant(command, cli.output).await,
        Command::Token { command } => token(command, cli.output).await,
        Command::Restore {
            tenant,
            resource_type,
            id,
            dynamo,
        } => restore(&tenant, &resource_type, &id, dynamo).await,
        Command::Migrate {
            command: MigrateCommand::ExternalIdIndex { tenant, dynamo },
        } => migrate_external_id_index(&tenant, dynamo).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> CliResult {
    let mut config = Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}{}", config.base_path));
    let base_root = format!("http://{addr}");
    let app = if args.dynamodb {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let dynamo = DynamoArgs {
            table: args
                .table
                .or_else(|| env("SCIMLET_TABLE"))
                .unwrap_or_else(|| "scimlet".into()),
            dynamodb_endpoint: args
                .dynamodb_endpoint
                .or_else(|| env("SCIMLET_DYNAMODB_ENDPOINT")),
            region: args.region,
        };
        if args.create_table {
            let store = dynamo.connect().await;
            create_table(store.client(), store.table()).await?;
        }
        let store = dynamo.store().await?;
        println!(
            "scimlet is serving SCIM 2.0 from DynamoDB table '{}'.",
            store.table()
        );
        println!("  Base URL: {base}");
        println!(
            "  Tokens:   scimlet token issue <tenant> --table {}",
            store.table()
        );
        App::new(config, Arc::new(store.clone()), Arc::new(store))
    } else {
        let (changes, sink) = events_sink(&args)?;
        // The admin API on the embedded store: with SCIMLET_ADMIN_KEY if set, else a key
        // made now and printed below.
        let admin_key = match &config.admin {
            scimlet::config::AdminAccess::Off => {
                let key = scimlet::secret::new_secret().map_err(|e| e.to_string())?;
                config.admin = scimlet::config::AdminAccess::key(&key);
                Some(key)
            }
            _ => None,
        };
        let store = match changes {
            Some(tx) => MemoryStore::with_changes(tx),
            None => MemoryStore::new(),
        };
        let tenant = tenant_id(&args.tenant)?;
        admin::create_tenant(&store, &tenant).await?;
        let issued = admin::issue(&store, &tenant, Some("serve".into()), None).await?;
        println!(
            "scimlet is serving SCIM 2.0 on the embedded in-memory store (data is lost on exit)."
        );
        println!("  Tenant:   {tenant}");
        println!("  Base URL: {base}");
        println!("  Admin:    {base_root}/admin/v1 (docs/admin-api.openapi.json)");
        if let Some(key) = &admin_key {
            println!("  Admin key: {key}");
        }
        println!("  Token:    {}", issued.token);
        println!();
        println!(
            "  curl -H 'Authorization: Bearer {}' {base}/Users",
            issued.token
        );
        if let Some((sink, rx, secret_shown)) = sink {
            match &sink {
                events::deliver::Sink::Stdout => {
                    println!("  Events:   printed below, one JSON object per line")
                }
                events::deliver::Sink::Url { url, .. } => {
                    println!("  Events:   POSTed to {url}");
                    if let Some(secret) = secret_shown {
                        println!("  Events signing secret (HMAC-SHA256): {secret}");
                    }
                }
            }
            tokio::spawn(events::deliver::run(rx, config.registry, sink));
        }
        App::new(config, Arc::new(store.clone()), Arc::new(store))
    };
    scimlet::http::serve::serve(listener, app, shutdown_signal()).await?;
    Ok(())
}

/// What `serve` delivers change events with: the channel the store reports on, and the sink
/// with its receiving end (and a generated secret to print).
type EventsSetup = (
    Option<tokio::sync::mpsc::UnboundedSender<scimlet::store::Change>>,
    Option<(
        events::deliver::Sink,
        tokio::sync::mpsc::UnboundedReceiver<scimlet::store::Change>,
        Option<String>,
    )>,
);

fn events_sink(args: &ServeArgs) -> Result<EventsSetup, Box<dyn std::error::Error>> {
    let sink = match (&args.events, &args.events_url) {
        (Some(_), _) => (events::deliver::Sink::Stdout, None),
        (None, Some(url)) => {
            if !matches!(url.scheme_str(), Some("http" | "https")) {
                return Err("--events-url must be an http:// or https:// URL".into());
            }
            let (secret, shown) = match &args.events_secret {
                Some(s) if !s.is_empty() => (s.clone(), None),
                _ => {
                    let generated = scimlet::secret::new_secret().map_err(|e| e.to_string())?;
                    (generated.clone(), Some(generated))
                }
            };
            (
                events::deliver::Sink::Url {
                    url: url.clone(),
                    secret: secret.into_bytes(),
                },
                shown,
            )
        }
        (None, None) => return Ok((None, None)),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    Ok((Some(tx), Some((sink.0, rx, sink.1))))
}

async fn shutdown_signal() {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: serve until killed.
        std::future::pending::<()>().await;
    }
}

async fn restore(tenant: &str, resource_type: &str, id: &str, dynamo: DynamoArgs) -> CliResult {
    let config = Config::from_env()?;
    let kind = if resource_type == "Group" {
        ResourceKind::Group
    } else {
        ResourceKind::User
    };
    let store = dynamo.store().await?;
    let restored = admin::restore(
        &store,
        &store,
        config.registry,
        &tenant_id(tenant)?,
        kind,
        id,
    )
    .await?;
    println!(
        "restored {} '{}' (version {})",
        kind.name(),
        restored.id,
        restored.version.number()
    );
    Ok(())
}

async fn migrate_external_id_index(tenant: &str, dynamo: DynamoArgs) -> CliResult {
    let config = Config::from_env()?;
    let store = dynamo.store().await?;
    let tenant = tenant_id(tenant)?;
    let report = admin::migrate_external_id_index(&store, &store, config.registry, &tenant, |r| {
        eprintln!("{} resources examined, {} indexed", r.examined, r.indexed);
    })
    .await?;
    println!(
        "tenant '{tenant}': externalId index built ({} of {} resources have an externalId); \
         `scimlet tenant set {tenant} --unique-external-ids false` now makes externalId \
         non-unique",
        report.indexed, report.examined
    );
    Ok(())
}

async fn table(command: TableCommand) -> CliResult {
    match command {
        TableCommand::Create(dynamo) => {
            let store = dynamo.connect().await;
            match create_table(store.client(), store.table()).await? {
                TableCreation::Created => println!("created table '{}'", store.table()),
                TableCreation::AlreadyExisted => {
                    println!("table '{}' already exists", store.table());
                }
            }
        }
    }
    Ok(())
}

async fn tenant(command: TenantCommand, out: Output) -> CliResult {
    match command {
        TenantCommand::Create {
            name,
            settings,
            dynamo,
        } => {
            let store = dynamo.store().await?;
            let mut chosen = TenantSettings::default();
            settings.apply(&mut chosen);
            let t = admin::create_tenant_with(&store, &tenant_id(&name)?, chosen).await?;
            out.print(
                || format!("created tenant '{}' ({})", t.id, describe(&t.settings)),
                || admin::json::tenant(&t),
            );
        }
        TenantCommand::Set {
            name,
            settings,
            dynamo,
        } => {
            let store = dynamo.store().await?;
            let t =
                admin::update_settings(&store, &tenant_id(&name)?, |s| settings.apply(s)).await?;
            out.print(
                || format!("tenant '{}': {}", t.id, describe(&t.settings)),
                || admin::json::tenant(&t),
            );
        }
        TenantCommand::List(dynamo) => {
            let store = dynamo.store().await?;
            let tenants = Directory::list_tenants(&store).await?;
            out.print(
                || {
                    tenants
                        .iter()
                        .map(|t| {
                            format!("{}\tcreated {}\t{}", t.id, t.created, describe(&t.settings))
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                || tenants.iter().map(admin::json::tenant).collect(),
            );
        }
        TenantCommand::Activity {
            name,
            errors,
            limit,
            dynamo,
        } => {
            let store = dynamo.store().await?;
            let id = tenant_id(&name)?;
            let entries = admin::recent_activity(&store, &store, &id, limit, errors).await?;
            out.print(
                || {
                    entries
                        .iter()
                        .map(|e| {
                            format!(
                                "{}\t{} {}\t{}\t{}\t{}\t{}\ttoken {}",
                                e.at,
                                e.method,
                                e.route,
                                e.status,
                                e.scim_type.as_deref().unwrap_or("-"),
                                e.reason.as_deref().unwrap_or("-"),
                                e.attribute.as_deref().unwrap_or("-"),
                                e.token_id.as_deref().unwrap_or("-")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                || entries.iter().map(admin::json::activity).collect(),
            );
        }
        TenantCommand::SetupLink {
            name,
            valid_days,
            url,
            dynamo,
        } => {
            let store = dynamo.store().await?;
            let id = tenant_id(&name)?;
            let issued = admin::links::create(&store, &id, valid_days.clamp(1, 36_500)).await?;
            let config = Config::from_env()?;
            let origin = url
                .trim_end_matches('/')
                .strip_suffix(config.base_path.as_str())
                .unwrap_or(url.trim_end_matches('/'))
                .to_owned();
            let link_url = format!("{origin}/setup/{}", issued.path);
            out.print(
                || link_url.clone(),
                || {
                    serde_json::json!({
                        "id": issued.link.id, "tenant": id.as_str(), "url": link_url,
                        "expires": admin::json::rfc3339(issued.link.expires_at),
                    })
                },
            );
        }
        TenantCommand::RevokeSetupLink { name, link, dynamo } => {
            let store = dynamo.store().await?;
            let id = tenant_id(&name)?;
            admin::links::revoke(&store, &id, &link).await?;
            out.print(
                || format!("setup link {link} revoked"),
                || serde_json::json!({"revoked": link}),
            );
        }
        TenantCommand::Show { name, dynamo } => {
            let store = dynamo.store().await?;
            let id = tenant_id(&name)?;
            let t = Directory::get_tenant(&store, &id)
                .await?
                .ok_or_else(|| admin::AdminError::NoSuchTenant(id.clone()))?;
            let tokens = Directory::list_tokens(&store, &id).await?;
            out.print(
                || {
                    let mut text = format!(
                        "tenant '{}'\n  created  {}\n  settings {}\n  tokens   {}",
                        t.id,
                        t.created,
                        describe(&t.settings),
                        tokens.len()
                    );
                    for token in &tokens {
                        text.push_str(&format!("\n    {}", token_line(token)));
                    }
                    text
                },
                || {
                    let mut json = admin::json::tenant(&t);
                    json["tokens"] = tokens.iter().map(admin::json::token).collect();
                    json
                },
            );
        }
        TenantCommand::Delete { name, yes, dynamo } => {
            if !yes {
                return Err(
                    "deleting a tenant removes all its users, groups and tokens; \
                            repeat with --yes to confirm"
                        .into(),
                );
            }
            let store = dynamo.store().await?;
            let id = tenant_id(&name)?;
            admin::delete_tenant(&store, &store as &dyn ResourceStore, &id).await?;
            out.print(
                || format!("deleted tenant '{id}'"),
                || serde_json::json!({"deleted": id.as_str()}),
            );
        }
    }
    Ok(())
}

async fn token(command: TokenCommand, out: Output) -> CliResult {
    match command {
        TokenCommand::Issue {
            tenant,
            label,
            expires_in_days,
            no_expiry,
            url,
            dynamo,
        } => {
            let store = dynamo.store().await?;
            let days = (!no_expiry).then_some(expires_in_days);
            let issued = admin::issue(&store, &tenant_id(&tenant)?, label, days).await?;
            // The token alone goes to standard output, for scripts; the rest to standard error.
            eprintln!(
                "token '{}' issued for tenant '{tenant}'; it is shown once, store it now.",
                issued.record.id
            );
            match url.filter(|u| !u.is_empty()) {
                Some(url) => eprintln!("  SCIM base URL: {}", url.trim_end_matches('/')),
                None => eprintln!(
                    "  SCIM base URL: not known here (pass --url or set SCIMLET_PUBLIC_URL; \
                     a SAM stack's is its ScimBaseUrl output)"
                ),
            }
            eprintln!("  Token:");
            out.print(
                || issued.token.clone(),
                || {
                    let mut json = admin::json::token(&issued.record);
                    json["token"] = issued.token.clone().into();
                    json
                },
            );
        }
        TokenCommand::List {
            tenant,
            expiring_within,
            dynamo,
        } => {
            let store = dynamo.store().await?;
            let mut tokens = admin::list_tokens(&store, &tenant_id(&tenant)?).await?;
            if let Some(within) = expiring_within {
                let horizon = scimlet::clock::now_unix().saturating_add(within);
                tokens.retain(|t| t.expires_at.is_some_and(|exp| exp <= horizon));
            }
            out.print(
                || tokens.iter().map(token_line).collect::<Vec<_>>().join("\n"),
                || tokens.iter().map(admin::json::token).collect(),
            );
        }
        TokenCommand::Rotate {
            tenant,
            token_id,
            overlap,
            expires_in_days,
            dynamo,
        } => {
            let store = dynamo.store().await?;
            let tenant = tenant_id(&tenant)?;
            let (successor, old) =
                admin::rotate(&store, &tenant, &token_id, overlap, Some(expires_in_days)).await?;
            let until = old
                .expires_at
                .map_or_else(|| "never".to_owned(), admin::json::rfc3339);
            eprintln!(
                "token '{}' replaces '{}' (which keeps working until {until}); the new token \
                 is shown once, store it now.",
                successor.record.id, old.id
            );
            eprintln!("  Token:");
            out.print(
                || successor.token.clone(),
                || {
                    let mut json = admin::json::token(&successor.record);
                    json["token"] = successor.token.clone().into();
                    json["replaces"] = admin::json::token(&old);
                    json
                },
            );
        }
        TokenCommand::Prune { tenant, dynamo } => {
            let store = dynamo.store().await?;
            let pruned = admin::prune(&store, &tenant_id(&tenant)?).await?;
            out.print(
                || {
                    format!(
                        "pruned {} expired token(s) {}",
                        pruned.len(),
                        pruned.join(" ")
                    )
                },
                || serde_json::json!({"pruned": pruned}),
            );
        }
        TokenCommand::Revoke {
            tenant,
            token_id,
            dynamo,
        } => {
            let store = dynamo.store().await?;
            admin::revoke(&store, &tenant_id(&tenant)?, &token_id).await?;
            out.print(
                || format!("revoked token '{token_id}'"),
                || serde_json::json!({"revoked": token_id}),
            );
        }
    }
    Ok(())
}

/// A token as one line of text.
fn token_line(t: &scimlet::domain::TokenRecord) -> String {
    let expires = t
        .expires_at
        .map_or_else(|| "never".to_owned(), admin::json::rfc3339);
    let used = t
        .last_used
        .map_or_else(|| "never".to_owned(), admin::json::rfc3339);
    format!(
        "{}\tcreated {}\texpires {}{}\tlast used {}\t{}",
        t.id,
        t.created,
        expires,
        if is_expired(t) { " (EXPIRED)" } else { "" },
        used,
        t.label.as_deref().unwrap_or_default()
    )
}

fn is_expired(t: &scimlet::domain::TokenRecord) -> bool {
    t.expired_at(scimlet::clock::now_unix())
}
