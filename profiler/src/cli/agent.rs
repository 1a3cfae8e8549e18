//! `syscall-profile agent`: every container of the node, one profile per
//! workload.

use std::{path::PathBuf, time::Duration};

use super::{Error, say, warn};
use crate::{
    agent::{self, AgentError, AgentEvent, AgentFormat, AgentOptions},
    session::hook::Hook,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum To {
    /// Docker's seccomp JSON (`WORKLOAD.json`), as `record` writes it.
    Docker,
    /// The Security Profiles Operator's `SeccompProfile` (`WORKLOAD.yaml`).
    Kubernetes,
}

#[derive(Debug, clap::Args)]
#[command(
    after_long_help = "Every container that starts on the node is recorded from its first \
                  process, by one eBPF program (counts kept by container); containers that \
                  already run are recorded from then on and marked attached. Containers are \
                  found by their cgroup: the kubelet's (systemd and cgroupfs drivers, \
                  containerd's CRI containers, named by their pod's labels in containerd's \
                  k8s.io namespace), Docker's and podman's. Replicas of one workload (the same \
                  namespace, pod-name stem, container name and image; or compose service) fold \
                  into one profile, with WORKLOAD.agent.json saying for each syscall how many \
                  replicas made it. Profiles are written atomically when a container ends, \
                  every --flush, and at the end; started again on the same --output, the agent \
                  goes on from what it wrote.\n\n\
                  Examples:\n  \
                  syscall-profile agent -o /var/lib/syscall-profile\n  \
                  syscall-profile agent -o profiles --to kubernetes --select \
                  io.kubernetes.pod.namespace=prod --duration 1h\n\n\
                  Exit status: 0 when it ended on a signal or --duration; 2 for a usage error; \
                  125 when it could not run (no BTF, no privileges, an unwritable --output)."
)]
pub struct AgentArgs {
    /// The directory the profiles go to (it must exist).
    #[arg(short, long, value_name = "DIR")]
    pub(crate) output: PathBuf,

    /// The profiles' format: docker or kubernetes.
    #[arg(
        long,
        value_enum,
        default_value = "docker",
        hide_possible_values = true
    )]
    pub(crate) to: To,

    /// Only containers with this label (repeatable: all must match).
    ///
    /// E.g. io.kubernetes.pod.namespace=prod.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_label)]
    pub(crate) select: Vec<(String, String)>,

    /// How often running containers' profiles are written.
    #[arg(long, value_name = "DURATION", default_value = "5m",
          value_parser = super::parse_duration)]
    pub(crate) flush: Duration,

    /// Stop after DURATION (e.g. 90s, 10m).
    ///
    /// Without it, the agent runs until SIGINT or SIGTERM.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    pub(crate) duration: Option<Duration>,

    /// The hook on raw_syscalls:sys_enter that counts.
    ///
    /// auto: the BTF tracepoint, else the raw one.
    #[arg(long, value_enum, default_value = "auto", hide_possible_values = true)]
    pub(crate) hook: Hook,

    /// Say nothing but warnings.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// Entry point of `syscall-profile agent`.
pub fn run(args: AgentArgs) -> Result<i32, Error> {
    if args.flush.is_zero() {
        return Err(Error::Usage("--flush must be longer than 0 s".into()));
    }
    let options = AgentOptions {
        output: args.output,
        to: match args.to {
            To::Docker => AgentFormat::Docker,
            To::Kubernetes => AgentFormat::Kubernetes,
        },
        select: args.select,
        flush: args.flush,
        duration: args.duration,
        hook: args.hook,
    };
    let quiet = args.quiet;
    let mut render = |event: AgentEvent| render(event, quiet);
    let summary = agent::run(&options, &mut render).map_err(Error::Agent)?;
    if !quiet {
        say(&format!(
            "the agent stopped ({}): {} container(s) recorded, {} workload(s) in {}",
            match summary.signal {
                Some(signal) => format!("signal {signal}"),
                None => "its --duration is over".to_owned(),
            },
            summary.containers,
            summary.workloads,
            options.output.display()
        ));
    }
    Ok(0)
}

fn render(event: AgentEvent, quiet: bool) {
    match event {
        AgentEvent::Warning(text) => warn(&text),
        _ if quiet => {}
        AgentEvent::Started {
            hook,
            running,
            resumed,
        } => say(&format!(
            "agent: counting every container on the {} hook; {running} running container(s) \
             recorded from now on (attached: start-up not observed){}",
            crate::choice::Choice::name(hook),
            match resumed {
                0 => String::new(),
                n => format!("; {n} workload(s) read back from the output directory"),
            }
        )),
        AgentEvent::Recording {
            container,
            workload,
            attached,
        } => say(&format!(
            "recording {container} as a replica of {workload}{}",
            if attached { " (attached)" } else { "" }
        )),
        AgentEvent::Skipped { container, why } => say(&format!("not recording {container}: {why}")),
        AgentEvent::Ended {
            container,
            workload,
            written,
        } => say(&format!(
            "{container} ended: {workload} written ({})",
            written
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        AgentEvent::Flushed { written } => say(&format!("wrote {} file(s)", written.len())),
    }
}

impl From<AgentError> for Error {
    fn from(e: AgentError) -> Error {
        Error::Agent(e)
    }
}
