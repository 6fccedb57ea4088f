//! `#[impasse::test]`: a test run as a closed world, so that impasse can judge the waits that
//! any thread could end (channels, condition variables, barriers, semaphores, joins).
//!
//! Use it through the `impasse` crate (`#[impasse::test]`), which documents it. The expansion
//! keeps the function as written and only moves its body into
//! `impasse::testing::run(<module path>::<name>, <options>, move || <body>)`:
//!
//! ```text
//! #[impasse::test(timeout = "5s")]        #[test]
//! #[should_panic]                    =>   #[should_panic]
//! fn name() -> R { body }                 fn name() -> R {
//!                                             ::impasse::testing::run(
//!                                                 concat!(module_path!(), "::", "name"),
//!                                                 Options::new().timeout(5000 ms),
//!                                                 move || -> R { body })
//!                                         }
//! ```
//!
//! Invariant: every error points at the token that causes it (the argument, `async`, the
//! parameter list), and nothing is emitted for a function it rejects but the error.

use proc_macro::TokenStream;
use proc_macro2::{Literal, TokenStream as TokenStream2};
use quote::quote;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr, ReturnType, Type};

/// (The attribute comes from the `impasse-macros` crate; use it as `impasse::test`.)
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args.into(), item.into()).into()
}

/// The expansion, on `proc_macro2` tokens (so that it can be unit-tested).
fn expand(args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let expanded = parse_timeout(args).and_then(|timeout| {
        let function = syn::parse2::<ItemFn>(item)?;
        wrap(function, timeout)
    });
    expanded.unwrap_or_else(syn::Error::into_compile_error)
}

/// The attribute's arguments: nothing, or `timeout = "<n>s"` / `"<n>ms"` / `"<n>m"`.
/// Returns the timeout in milliseconds.
fn parse_timeout(args: TokenStream2) -> syn::Result<Option<u64>> {
    let mut timeout = None;
    let parser = syn::meta::parser(|meta| {
        if !meta.path.is_ident("timeout") {
            return Err(meta.error(
                "unknown argument: `#[impasse::test]` takes `timeout = \"5s\"` (or \"500ms\")",
            ));
        }
        if timeout.is_some() {
            return Err(meta.error("`timeout` is given twice"));
        }
        let value: LitStr = meta.value()?.parse()?;
        let millis =
            parse_duration(&value.value()).map_err(|e| syn::Error::new(value.span(), e))?;
        timeout = Some(millis);
        Ok(())
    });
    parser.parse2(args)?;
    Ok(timeout)
}

/// `"5s"`, `"500ms"`, `"2m"` in milliseconds; an error message for anything else.
fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let malformed = || {
        format!(
            "malformed timeout {text:?}: expected a whole number with a unit, such as \"5s\", \
             \"500ms\" or \"2m\""
        )
    };
    let number: u64 = number.parse().map_err(|_| malformed())?;
    let per_unit = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        _ => return Err(malformed()),
    };
    match number.checked_mul(per_unit) {
        Some(0) => Err(String::from(
            "a timeout of zero would fail the test before it starts",
        )),
        Some(millis) => Ok(millis),
        None => Err(format!("timeout {text:?} is too long")),
    }
}

/// The test function: `#[test]`, the user's attributes, the signature, and the body moved
/// into `impasse::testing::run`.
fn wrap(function: ItemFn, timeout: Option<u64>) -> syn::Result<TokenStream2> {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    if let Some(asyncness) = sig.asyncness {
        return Err(syn::Error::new(
            asyncness.span(),
            "`#[impasse::test]` cannot run an `async fn`: block on its future in a plain fn \
             (with the runtime of your choice) instead",
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new(
            sig.inputs.span(),
            "a test function takes no arguments",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a test function has no generic parameters",
        ));
    }
    if let Some(test) = attrs.iter().find(|a| a.path().is_ident("test")) {
        return Err(syn::Error::new(
            test.span(),
            "`#[impasse::test]` adds `#[test]` itself: remove this one",
        ));
    }
    let name = &sig.ident;
    let options = match timeout {
        None => quote!(::impasse::testing::Options::new()),
        Some(millis) => {
            let millis = Literal::u64_unsuffixed(millis);
            quote! {
                ::impasse::testing::Options::new()
                    .timeout(::core::time::Duration::from_millis(#millis))
            }
        }
    };
    // The closure returns what the test returns (a `Result` included, so `?` works in the
    // body); an `impl Trait` return type cannot be written on a closure and is inferred.
    let returns = match &sig.output {
        ReturnType::Type(arrow, ty) if !matches!(**ty, Type::ImplTrait(_)) => quote!(#arrow #ty),
        _ => TokenStream2::new(),
    };
    Ok(quote! {
        #[test]
        #(#attrs)*
        #vis #sig {
            ::impasse::testing::run(
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                #options,
                move || #returns #block,
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{expand, parse_duration};
    use quote::quote;

    #[test]
    fn durations_in_their_units() {
        assert_eq!(parse_duration("5s"), Ok(5_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration(" 2m "), Ok(120_000));
        assert_eq!(parse_duration("3 s"), Ok(3_000));
        for bad in ["5", "s", "5 parsecs", "-1s", "1.5s", "", "0s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_duration("99999999999999999999m").is_err());
    }

    fn expanded(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        expand(args, item).to_string()
    }

    #[test]
    fn the_body_runs_in_a_world_named_for_the_test() {
        let out = expanded(
            quote!(),
            quote!(
                fn adds() {
                    assert_eq!(1 + 1, 2);
                }
            ),
        );
        assert!(out.starts_with("# [test] fn adds ()"), "{out}");
        assert!(out.contains(":: impasse :: testing :: run"), "{out}");
        assert!(out.contains("stringify ! (adds)"), "{out}");
        assert!(out.contains("move ||"), "{out}");
    }

    #[test]
    fn attributes_and_the_return_type_are_kept() {
        let out = expanded(
            quote!(timeout = "500ms"),
            quote!(
                /// Docs.
                #[should_panic(expected = "boom")]
                #[ignore]
                fn fallible() -> Result<(), String> {
                    Err("boom".into())
                }
            ),
        );
        for kept in [
            "# [doc = r\" Docs.\"]",
            "# [should_panic (expected = \"boom\")]",
            "# [ignore]",
            "fn fallible () -> Result < () , String >",
            "move || -> Result < () , String >",
            "from_millis (500)",
        ] {
            assert!(out.contains(kept), "lacks {kept}: {out}");
        }
    }

    #[test]
    fn rejected_functions_become_compile_errors() {
        for (args, item, message) in [
            (
                quote!(),
                quote!(
                    async fn later() {}
                ),
                "async fn",
            ),
            (
                quote!(),
                quote!(
                    fn with(x: u8) {}
                ),
                "takes no arguments",
            ),
            (
                quote!(),
                quote!(
                    fn generic<T>() {}
                ),
                "no generic parameters",
            ),
            (
                quote!(),
                quote!(
                    #[test]
                    fn twice() {}
                ),
                "adds `#[test]` itself",
            ),
            (
                quote!(timeout = "soon"),
                quote!(
                    fn t() {}
                ),
                "malformed timeout",
            ),
            (
                quote!(timeout = 5),
                quote!(
                    fn t() {}
                ),
                "expected string literal",
            ),
            (
                quote!(retries = 3),
                quote!(
                    fn t() {}
                ),
                "unknown argument",
            ),
        ] {
            let out = expanded(args, item);
            assert!(out.starts_with(":: core :: compile_error !"), "{out}");
            assert!(out.contains(message), "lacks {message}: {out}");
        }
    }
}
