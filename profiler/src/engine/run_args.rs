//! Reading and rewriting a `docker run` / `podman run` / `ctr run` command
//! line.
//!
//! The recorder and the enforcer add options to the user's own invocation
//! and must keep every option the user gave. To know where the engine's
//! options end and the image (and the container's own command) begin, the
//! parser must know which options take a value: in both CLIs almost all do,
//! so the few boolean ones are listed here, and any other option is taken to
//! take a value unless it is written `--name=value`.

use std::ffi::{OsStr, OsString};

/// A container engine whose CLI the tool drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
    /// containerd, through its CLI `ctr` (`ctr run IMAGE ID [CMD...]`).
    Containerd,
}

impl Engine {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::Containerd => "containerd",
        }
    }

    /// The engine [`Engine::name`] names.
    pub(crate) fn from_name(name: &str) -> Option<Engine> {
        [Engine::Docker, Engine::Podman, Engine::Containerd]
            .into_iter()
            .find(|e| e.name() == name)
    }

    /// The Debian package that installs the engine's CLI.
    pub(crate) fn package(self) -> &'static str {
        match self {
            Engine::Docker => "docker.io",
            Engine::Podman => "podman",
            Engine::Containerd => "containerd",
        }
    }

    /// The engine's CLI, as the user types it.
    pub(crate) fn cli_name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::Containerd => "ctr",
        }
    }

    /// The run option that places the container's cgroup.
    pub(crate) fn cgroup_option(self) -> &'static str {
        match self {
            Engine::Docker | Engine::Podman => "cgroup-parent",
            Engine::Containerd => "cgroup",
        }
    }

    /// The words after `ENGINE [globals]` that list the ids of the
    /// containers carrying the label `key=value`, one a line.
    pub(crate) fn list_labelled_args(self, label: &str) -> Vec<String> {
        match self {
            Engine::Docker | Engine::Podman => vec![
                "ps".into(),
                "-aq".into(),
                "--no-trunc".into(),
                "--filter".into(),
                format!("label={label}"),
            ],
            Engine::Containerd => {
                let (key, value) = label.split_once('=').unwrap_or((label, ""));
                vec![
                    "containers".into(),
                    "ls".into(),
                    "-q".into(),
                    format!("labels.\"{key}\"=={value}"),
                ]
            }
        }
    }

    /// The commands (words after `ENGINE [globals]`) that remove the
    /// container `id`, killing it first, in order.
    pub(crate) fn remove_args(self, id: &str) -> Vec<Vec<String>> {
        match self {
            Engine::Docker | Engine::Podman => vec![vec!["rm".into(), "-f".into(), id.into()]],
            // The task (the running process) first, then the container
            // (with its snapshot).
            Engine::Containerd => vec![
                vec!["tasks".into(), "rm".into(), "-f".into(), id.into()],
                vec!["containers".into(), "rm".into(), id.into()],
            ],
        }
    }

    /// The command line that stops the container `id`, for the user.
    pub(crate) fn stop_hint(self, id: &str) -> String {
        match self {
            Engine::Docker | Engine::Podman => format!("{} stop {id}", self.cli_name()),
            Engine::Containerd => format!("ctr tasks kill {id}"),
        }
    }

    /// The command line that removes the stopped container `id`, for the
    /// user.
    pub(crate) fn remove_hint(self, id: &str) -> String {
        match self {
            Engine::Docker | Engine::Podman => format!("{} rm {id}", self.cli_name()),
            // `ctr run` deletes the task when it returns; the container stays.
            Engine::Containerd => format!("ctr containers rm {id}"),
        }
    }

    /// The command line that removes every container carrying the label
    /// `key=value`, running or not, through the engine the global options
    /// `globals` (`-H HOST`) name, for the user (when the engine could not
    /// be asked which they are).
    pub(crate) fn remove_labelled_hint(self, globals: &[OsString], label: &str) -> String {
        let mut cli = vec![self.cli_name().to_owned()];
        cli.extend(
            globals
                .iter()
                .map(|g| crate::text::shell_quote(&g.to_string_lossy())),
        );
        let cli = cli.join(" ");
        let list: Vec<String> = self
            .list_labelled_args(label)
            .iter()
            .map(|w| crate::text::shell_quote(w))
            .collect();
        let list = list.join(" ");
        match self {
            Engine::Docker | Engine::Podman => format!("{cli} rm -f $({cli} {list})"),
            Engine::Containerd => format!(
                "for id in $({cli} {list}); do {cli} tasks rm -f $id; {cli} containers rm $id; done"
            ),
        }
    }

    /// Long options of `ENGINE run` that take no value.
    fn is_boolean_long_option(self, name: &str) -> bool {
        const BOTH: &[&str] = &[
            "detach",
            "interactive",
            "tty",
            "rm",
            "privileged",
            "init",
            "publish-all",
            "read-only",
            "no-healthcheck",
            "oom-kill-disable",
            "sig-proxy",
            "quiet",
            "help",
        ];
        const DOCKER_ONLY: &[&str] = &["disable-content-trust"];
        const PODMAN_ONLY: &[&str] = &[
            "read-only-tmpfs",
            "no-hosts",
            "replace",
            "rmi",
            "rootfs",
            "env-host",
            "http-proxy",
            "passwd",
            "tls-verify",
        ];
        // `ctr run`'s flags (containerd 1.6).
        const CTR: &[&str] = &[
            "rm",
            "null-io",
            "detach",
            "cni",
            "runc-systemd-cgroup",
            "remap-labels",
            "net-host",
            "privileged",
            "read-only",
            "tty",
            "allow-new-privs",
            "seccomp",
            "rootfs",
            "no-pivot",
            "help",
        ];
        match self {
            Engine::Docker => BOTH.contains(&name) || DOCKER_ONLY.contains(&name),
            Engine::Podman => BOTH.contains(&name) || PODMAN_ONLY.contains(&name),
            Engine::Containerd => CTR.contains(&name),
        }
    }

    /// Short options of `ENGINE run` that take no value.
    fn boolean_short_options(self) -> &'static [char] {
        match self {
            Engine::Docker | Engine::Podman => &['d', 'i', 't', 'P', 'q'],
            Engine::Containerd => &['d', 't', 'h'],
        }
    }
}

/// An option of the user's run, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOption {
    /// The option's name without dashes (`security-opt`, `d`).
    pub name: String,
    /// Its value, where it has one.
    pub value: Option<String>,
    /// Index of the option's first word in the command line.
    pub index: usize,
    /// How many words it takes (1 or 2).
    pub words: usize,
}

/// A parsed `ENGINE [global options] run|container run [options] IMAGE [CMD...]`
/// (`ctr [global options] run [options] IMAGE ID [CMD...]`).
#[derive(Debug, Clone)]
pub struct ContainerRun {
    pub engine: Engine,
    /// The whole command line, as the user gave it.
    pub argv: Vec<OsString>,
    /// Index of the word after `run` (where options can be inserted).
    pub options_start: usize,
    /// The options of `run`, in order.
    pub options: Vec<RunOption>,
    /// Index of the image in `argv`.
    pub image_index: usize,
}

impl ContainerRun {
    /// Recognises `docker run`, `docker container run`, `podman run` (also
    /// `podman container run`) and `ctr run`, with global options before the
    /// verb. Anything else is not a container run.
    pub(crate) fn parse(argv: &[OsString]) -> Option<ContainerRun> {
        let program = std::path::Path::new(argv.first()?).file_name()?.to_str()?;
        let engine = match program {
            "docker" => Engine::Docker,
            "podman" => Engine::Podman,
            "ctr" => Engine::Containerd,
            _ => return None,
        };
        // Global options before the verb: all of them take a value except
        // the few boolean ones; `run` is the first plain word.
        let mut i = 1;
        while i < argv.len() {
            let word = argv[i].to_str()?;
            if word == "run" {
                break;
            }
            if word == "container"
                && engine != Engine::Containerd
                && argv.get(i + 1).is_some_and(|w| w == "run")
            {
                i += 1;
                break;
            }
            if !word.starts_with('-') {
                return None;
            }
            let global_boolean = matches!(
                word,
                "-D" | "--debug" | "--tls" | "--tlsverify" | "--syslog" | "--remote" | "-r"
            );
            i += if word.contains('=') || global_boolean {
                1
            } else {
                2
            };
        }
        if i >= argv.len() {
            return None;
        }
        let options_start = i + 1;
        let mut options = Vec::new();
        let mut j = options_start;
        while j < argv.len() {
            let word = argv[j].to_string_lossy().into_owned();
            if word == "--" {
                j += 1;
                break;
            }
            if !word.starts_with('-') || word == "-" {
                break;
            }
            let option = parse_option(engine, argv, j, &word);
            j += option.iter().map(|o| o.words).max().unwrap_or(1);
            options.extend(option);
        }
        if j >= argv.len() {
            // No image: let the engine say so itself.
            return Some(ContainerRun {
                engine,
                argv: argv.to_vec(),
                options_start,
                options,
                image_index: argv.len(),
            });
        }
        Some(ContainerRun {
            engine,
            argv: argv.to_vec(),
            options_start,
            options,
            image_index: j,
        })
    }

    /// The image, where one was given.
    pub(crate) fn image(&self) -> Option<&OsStr> {
        self.argv.get(self.image_index).map(OsString::as_os_str)
    }

    /// `ctr run`'s container id, the word after the image (docker and
    /// podman name their containers with an option).
    pub(crate) fn container_id(&self) -> Option<&str> {
        match self.engine {
            Engine::Containerd => self.argv.get(self.image_index + 1)?.to_str(),
            Engine::Docker | Engine::Podman => None,
        }
    }

    /// Options with one of `names`.
    pub(crate) fn find<'a>(
        &'a self,
        names: &'a [&str],
    ) -> impl Iterator<Item = &'a RunOption> + 'a {
        self.options
            .iter()
            .filter(move |o| names.contains(&o.name.as_str()))
    }

    /// Whether a boolean option is on (`--rm`, `-d`, `--detach=true`).
    pub(crate) fn flag(&self, names: &[&str]) -> bool {
        self.find(names)
            .any(|o| o.value.as_deref().is_none_or(|v| v != "false"))
    }

    pub(crate) fn detached(&self) -> bool {
        self.flag(&["d", "detach"])
    }

    pub(crate) fn privileged(&self) -> bool {
        self.flag(&["privileged"])
    }

    /// Refuses what no supervised run can work with: `--privileged` (it
    /// turns seccomp off) and a `--cgroup-parent` of the user's (the tool
    /// sets its own, to watch the container from its first syscall).
    /// `--user` of the tool's own is refused too: a container's user is
    /// the engine's to set.
    pub(crate) fn check_supervisable(&self, user: bool) -> Result<(), super::EngineError> {
        if user {
            return Err(super::EngineError::UserForContainer);
        }
        if self.privileged() {
            return Err(super::EngineError::Privileged);
        }
        let option = self.engine.cgroup_option();
        if let Some(given) = self.find(&[option]).next() {
            return Err(super::EngineError::CgroupParentGiven {
                option,
                value: given.value.clone().unwrap_or_default(),
            });
        }
        if self.engine == Engine::Containerd {
            if self.detached() {
                return Err(super::EngineError::CtrDetached);
            }
            if self.container_id().is_none() {
                return Err(super::EngineError::CtrNoId);
            }
        }
        Ok(())
    }

    /// The seccomp options the user gave: `--security-opt seccomp=...`;
    /// for `ctr`, `--seccomp` and `--seccomp-profile FILE`.
    pub(crate) fn seccomp_options(&self) -> Vec<&RunOption> {
        match self.engine {
            Engine::Containerd => self.find(&["seccomp", "seccomp-profile"]).collect(),
            Engine::Docker | Engine::Podman => self
                .find(&["security-opt"])
                .filter(|o| o.value.as_deref().is_some_and(is_seccomp_security_opt))
                .collect(),
        }
    }

    /// The options that run the container under the seccomp profile in
    /// `file` (for `ctr`, the runtime spec's `linux.seccomp` JSON; for
    /// docker and podman, Docker's JSON).
    pub(crate) fn seccomp_args(&self, file: &str) -> Vec<OsString> {
        match self.engine {
            Engine::Containerd => vec!["--seccomp".into(), "--seccomp-profile".into(), file.into()],
            Engine::Docker | Engine::Podman => {
                vec!["--security-opt".into(), format!("seccomp={file}").into()]
            }
        }
    }

    /// Where the container's cgroup goes, as the engine's option and its
    /// value: below the run's cgroup `parent` (docker and podman take the
    /// parent and make `<parent>/<id>` below it; `ctr` takes the
    /// container's own path, `/<namespace>/<id>` by default, which becomes
    /// `<parent>/<id>`).
    pub(crate) fn cgroup_args(&self, parent: &std::path::Path) -> (String, String) {
        let parent = parent.to_string_lossy().into_owned();
        let option = format!("--{}", self.engine.cgroup_option());
        match self.container_id() {
            Some(id) => (option, format!("{parent}/{id}")),
            None => (option, parent),
        }
    }

    /// How the user's option is written back, for a message.
    pub(crate) fn describe_option(option: &RunOption) -> String {
        match &option.value {
            Some(value) => format!("--{} {value}", option.name),
            None => format!("--{}", option.name),
        }
    }

    /// The command line with the user's `--security-opt seccomp=...` options
    /// removed and `extra` options inserted right after `run`.
    pub(crate) fn rewritten(&self, extra: &[OsString]) -> Vec<OsString> {
        let dropped: Vec<(usize, usize)> = self
            .seccomp_options()
            .iter()
            .map(|o| (o.index, o.words))
            .collect();
        let mut out = Vec::with_capacity(self.argv.len() + extra.len());
        for (i, word) in self.argv.iter().enumerate() {
            if i == self.options_start {
                out.extend(extra.iter().cloned());
            }
            if dropped
                .iter()
                .any(|&(start, n)| (start..start + n).contains(&i))
            {
                continue;
            }
            out.push(word.clone());
        }
        if self.options_start >= self.argv.len() {
            out.extend(extra.iter().cloned());
        }
        out
    }
}

/// `seccomp=FILE`, `seccomp:FILE` (older syntax) or `seccomp=unconfined`.
fn is_seccomp_security_opt(value: &str) -> bool {
    value.starts_with("seccomp=") || value.starts_with("seccomp:")
}

/// Parses the option at `argv[index]` (`word`), which may be a cluster of
/// short options (`-it`, `-dit`, `-itv/x:/y`).
fn parse_option(engine: Engine, argv: &[OsString], index: usize, word: &str) -> Vec<RunOption> {
    let next = || {
        argv.get(index + 1)
            .map(|w| w.to_string_lossy().into_owned())
    };
    if let Some(long) = word.strip_prefix("--") {
        if let Some((name, value)) = long.split_once('=') {
            return vec![RunOption {
                name: name.to_owned(),
                value: Some(value.to_owned()),
                index,
                words: 1,
            }];
        }
        let boolean = engine.is_boolean_long_option(long);
        return vec![RunOption {
            name: long.to_owned(),
            value: if boolean { None } else { next() },
            index,
            words: if boolean { 1 } else { 2 },
        }];
    }
    // A cluster of short options: booleans until one that takes a value,
    // which takes the rest of the word or the next word.
    let mut out = Vec::new();
    let chars: Vec<char> = word[1..].chars().collect();
    for (k, &c) in chars.iter().enumerate() {
        if engine.boolean_short_options().contains(&c) {
            out.push(RunOption {
                name: c.to_string(),
                value: None,
                index,
                words: 1,
            });
            continue;
        }
        let rest: String = chars[k + 1..].iter().collect();
        let rest = rest.strip_prefix('=').unwrap_or(&rest).to_owned();
        let (value, words) = if rest.is_empty() {
            (next(), 2)
        } else {
            (Some(rest), 1)
        };
        out.push(RunOption {
            name: c.to_string(),
            value,
            index,
            words,
        });
        break;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn not_a_container_run() {
        assert!(ContainerRun::parse(&argv(&["ls", "-l"])).is_none());
        assert!(ContainerRun::parse(&argv(&["docker", "ps"])).is_none());
        assert!(ContainerRun::parse(&argv(&["docker", "exec", "x", "run"])).is_none());
    }

    #[test]
    fn finds_the_image_after_options_with_values() {
        let run = ContainerRun::parse(&argv(&[
            "docker",
            "run",
            "--rm",
            "-it",
            "-v",
            "/a:/b",
            "--name=x",
            "--network",
            "none",
            "img:1",
            "sh",
            "-c",
            "--privileged",
        ]))
        .unwrap();
        assert_eq!(run.engine, Engine::Docker);
        assert_eq!(run.image().unwrap(), "img:1");
        assert!(
            !run.privileged(),
            "words after the image belong to the container"
        );
        assert!(!run.detached());
        let names: Vec<&str> = run.options.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["rm", "i", "t", "v", "name", "network"]);
    }

    #[test]
    fn container_run_and_global_options() {
        let run = ContainerRun::parse(&argv(&[
            "/usr/bin/docker",
            "--host",
            "unix:///x.sock",
            "container",
            "run",
            "-d",
            "busybox",
        ]))
        .unwrap();
        assert_eq!(run.options_start, 5);
        assert!(run.detached());
        assert_eq!(run.image().unwrap(), "busybox");
        let run = ContainerRun::parse(&argv(&[
            "podman",
            "--log-level=debug",
            "run",
            "--privileged",
            "img",
        ]))
        .unwrap();
        assert_eq!(run.engine, Engine::Podman);
        assert!(run.privileged());
    }

    #[test]
    fn short_option_clusters() {
        let run = ContainerRun::parse(&argv(&[
            "docker", "run", "-dit", "-eFOO=1", "-u", "0", "img",
        ]))
        .unwrap();
        assert!(run.detached());
        let env = run.find(&["e"]).next().unwrap();
        assert_eq!(env.value.as_deref(), Some("FOO=1"));
        assert_eq!(run.image().unwrap(), "img");
    }

    #[test]
    fn rewriting_replaces_seccomp_and_keeps_the_rest() {
        let run = ContainerRun::parse(&argv(&[
            "docker",
            "run",
            "--security-opt",
            "seccomp=old.json",
            "--security-opt=no-new-privileges",
            "--security-opt=seccomp=unconfined",
            "img",
            "echo",
            "--security-opt",
        ]))
        .unwrap();
        assert_eq!(run.seccomp_options().len(), 2);
        let new = run.rewritten(&argv(&["--security-opt", "seccomp=new.json"]));
        assert_eq!(
            new,
            argv(&[
                "docker",
                "run",
                "--security-opt",
                "seccomp=new.json",
                "--security-opt=no-new-privileges",
                "img",
                "echo",
                "--security-opt",
            ])
        );
    }

    #[test]
    fn ctr_run_with_globals_id_and_seccomp() {
        let run = ContainerRun::parse(&argv(&[
            "ctr",
            "-a",
            "/x/containerd.sock",
            "--namespace",
            "container",
            "run",
            "--rm",
            "--seccomp",
            "--seccomp-profile",
            "old.json",
            "-t",
            "--env",
            "A=1",
            "docker.io/library/img:1",
            "app1",
            "sh",
            "--seccomp",
        ]))
        .unwrap();
        assert_eq!(run.engine, Engine::Containerd);
        assert_eq!(run.image().unwrap(), "docker.io/library/img:1");
        assert_eq!(run.container_id(), Some("app1"));
        assert_eq!(run.seccomp_options().len(), 2);
        assert!(run.check_supervisable(false).is_ok());
        let (option, value) = run.cgroup_args(std::path::Path::new("/syscall-profile/rec-1"));
        assert_eq!(
            (option.as_str(), value.as_str()),
            ("--cgroup", "/syscall-profile/rec-1/app1")
        );
        let new = run.rewritten(&run.seccomp_args("new.json"));
        assert_eq!(
            new,
            argv(&[
                "ctr",
                "-a",
                "/x/containerd.sock",
                "--namespace",
                "container",
                "run",
                "--seccomp",
                "--seccomp-profile",
                "new.json",
                "--rm",
                "-t",
                "--env",
                "A=1",
                "docker.io/library/img:1",
                "app1",
                "sh",
                "--seccomp",
            ])
        );
    }

    #[test]
    fn ctr_refusals() {
        let parse = |words: &[&str]| ContainerRun::parse(&argv(words)).unwrap();
        assert!(matches!(
            parse(&["ctr", "run", "-d", "img", "id"]).check_supervisable(false),
            Err(crate::engine::EngineError::CtrDetached)
        ));
        assert!(matches!(
            parse(&["ctr", "run", "img"]).check_supervisable(false),
            Err(crate::engine::EngineError::CtrNoId)
        ));
        assert!(matches!(
            parse(&["ctr", "run", "--cgroup", "/a", "img", "id"]).check_supervisable(false),
            Err(crate::engine::EngineError::CgroupParentGiven {
                option: "cgroup",
                ..
            })
        ));
        assert!(ContainerRun::parse(&argv(&["ctr", "images", "ls"])).is_none());
    }
}
