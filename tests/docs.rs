//! The docs list every setting the code has: the README's configuration
//! table and `examples/restock.env` are checked against `Config` itself.

mod support;

use restock::config::{env_name, Config};
use support::env::repo_file;

#[test]
fn readme_and_env_example_list_every_setting() {
    let readme = repo_file("README.md");
    let env = repo_file("examples/restock.env");
    let fields = Config::field_names();
    assert!(fields.len() > 20, "{fields:?}");
    for key in fields {
        let var = env_name(key);
        assert!(
            readme.contains(&format!("| `{var}` |")),
            "README's configuration table lacks {var}"
        );
        assert!(
            env.contains(&format!("#{var}=")),
            "examples/restock.env lacks {var}"
        );
    }
}

#[test]
fn readme_lists_no_setting_the_code_lacks() {
    let readme = repo_file("README.md");
    let known: Vec<String> = Config::field_names().into_iter().map(env_name).collect();
    for line in readme.lines().filter(|l| l.starts_with("| `RESTOCK_")) {
        let var = line.trim_start_matches("| `").split('`').next().unwrap();
        assert!(
            known.iter().any(|k| k == var),
            "README documents {var}, which Config does not have"
        );
    }
}
