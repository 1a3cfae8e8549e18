//! The integration tests: one binary, one module per promise (see
//! `README.md` here for the layout, what each part needs and how to run
//! one test). They run the real tool on the real kernel, engines and
//! runtimes; where something they need is missing they fail naming it.

mod common;
mod reference;

mod agent;
mod arguments;
mod attach;
mod baseline_engine;
mod baseline_reference;
mod check_gate;
mod ci_action;
mod complain;
mod containerd;
mod containers;
mod coverage;
mod deploy;
mod diff_cli;
mod dist;
mod docs_examples;
mod doctor;
mod enforce_native;
mod exactness;
mod export;
mod fuzz_regressions;
mod ground_truth;
mod help;
mod hostile_images;
mod hostile_inputs;
mod implied;
mod kernel_events;
mod learn;
mod learned_arguments;
mod live_denials;
mod merge_cli;
mod outputs;
mod profile_parse;
mod record_cli;
mod record_errors;
mod scan;
mod trust;
mod whole_tree;
