//! The `with_async_drop!` scope macro.

/// Runs a block, then always cleans up the listed guards, and yields the block's
/// result.
///
/// ```text
/// with_async_drop!(a, b => { ... })            // block: Result<T, E>; cleanup errors map into E
/// with_async_drop!(a, b => { ... }, map_err = f) // the same, cleanup errors mapped by `f`
/// with_async_drop!(infallible a, b => { ... }) // block: any R; cleanup errors are Infallible
/// with_async_drop!(all a, b => { ... })        // (R, (Result<(), Ea>, Result<(), Eb>))
/// with_async_drop!(sequential ...)             // any form, cleanups one by one
/// ```
///
/// Use it inside an `async` context. The guards are local variables (`let` bindings,
/// `mut` if the block mutates them) that the block may use freely; afterwards they
/// are cleaned up with [`AsyncDropGuard::async_drop`](crate::AsyncDropGuard::async_drop),
/// all at once in the current task (with `sequential`: one after the other, **last
/// listed first**, like the drop order of locals), whatever way the block was left:
///
/// - the block's value at its end;
/// - `?` inside the block: the error becomes the block's value;
/// - `return x` inside the block: `x` becomes the block's value. Like a `try` block,
///   `return` leaves the *block*, not the enclosing function; the macro's value is
///   what the function then returns.
///
/// A panic in the block unwinds past the macro: the guards are dropped and reported
/// as forgotten (with `std`, without a second panic).
///
/// The block runs as an `async` block, so it may `.await`. Its `?` converts errors
/// with `From` as usual; where the error type cannot be inferred, annotate the
/// final value (`Ok::<_, MyError>(x)`).
///
/// # Forms
///
/// - **`with_async_drop!(g1, g2 => { .. })`** — the block yields `Result<T, E>`, and
///   every guard's cleanup error converts into `E` with `From`. The result is the
///   block's error if it failed, else the first cleanup error (in listing order),
///   else the block's value. Further errors are dropped — use `all` to keep them.
///   With `, map_err = f` after the block, `f` (a closure, or a generic function
///   for guards of several error types) maps each cleanup error instead of `From`.
/// - **`with_async_drop!(infallible g1, g2 => { .. })`** — for guards whose cleanup
///   error is [`Infallible`](core::convert::Infallible); the block may yield any type.
/// - **`with_async_drop!(all g1, g2 => { .. })`** — yields a pair: the block's value
///   (any type) and a tuple with each guard's cleanup result in listing order.
///
/// # Cancel safety
///
/// If the enclosing future is dropped while the block runs, the guards are dropped
/// and reported as forgotten; during the cleanups, each unfinished one reports itself
/// as cancelled (see [`AsyncDropGuard::async_drop`](crate::AsyncDropGuard::async_drop)).
/// With `sequential`, the guards whose cleanup has not started yet (listed before
/// the running one) report as forgotten.
///
/// # Examples
///
/// ```
/// use asyncdrop::{with_async_drop, AsyncDrop, AsyncDropGuard};
///
/// #[derive(Debug, PartialEq)]
/// enum Error { Query, Close }
///
/// struct Conn;
/// impl AsyncDrop for Conn {
///     type Error = Error;
///     async fn async_drop_impl(self) -> Result<(), Error> { Ok(()) }
/// }
/// impl Conn {
///     async fn query(&mut self, q: &str) -> Result<u32, Error> {
///         if q.is_empty() { Err(Error::Query) } else { Ok(q.len() as u32) }
///     }
/// }
///
/// async fn run(q: &str) -> Result<u32, Error> {
///     let mut conn = AsyncDropGuard::new(Conn);
///     with_async_drop!(conn => {
///         let n = conn.query(q).await?; // on error, `conn` is still cleaned up
///         if n > 100 {
///             return Ok(100); // leaves the block; `conn` is still cleaned up
///         }
///         Ok(n)
///     })
/// }
///
/// # let _ = Error::Close;
/// # futures_executor::block_on(async {
/// assert_eq!(run("select").await, Ok(6));
/// assert_eq!(run("").await, Err(Error::Query));
/// # });
/// ```
///
/// With `?` *after* the macro, in a function of another error type, nothing fixes
/// the block's error type (error E0282, as for a `try` block): name it in the
/// block's last expression, `Ok::<_, Error>(..)`:
///
/// ```
/// # use asyncdrop::{with_async_drop, AsyncDrop, AsyncDropGuard};
/// # #[derive(Debug)]
/// # struct Error;
/// # struct Conn;
/// # impl AsyncDrop for Conn {
/// #     type Error = Error;
/// #     async fn async_drop_impl(self) -> Result<(), Error> { Ok(()) }
/// # }
/// # impl Conn {
/// #     async fn query(&mut self, _: &str) -> Result<u32, Error> { Ok(6) }
/// # }
/// #[derive(Debug)]
/// struct AppError;
/// impl From<Error> for AppError {
///     fn from(_: Error) -> Self { AppError }
/// }
///
/// async fn total() -> Result<u32, AppError> {
///     let mut conn = AsyncDropGuard::new(Conn);
///     let n = with_async_drop!(conn => {
///         let n = conn.query("select").await?;
///         Ok::<_, Error>(n) // without `::<_, Error>`: E0282
///     })?;
///     Ok(n + 1)
/// }
/// # assert_eq!(futures_executor::block_on(total()).unwrap(), 7);
/// ```
///
/// Keeping every cleanup result:
///
/// ```
/// # use asyncdrop::{with_async_drop, AsyncDrop, AsyncDropGuard};
/// # struct Conn(Result<(), u8>);
/// # impl AsyncDrop for Conn {
/// #     type Error = u8;
/// #     async fn async_drop_impl(self) -> Result<(), u8> { self.0 }
/// # }
/// # futures_executor::block_on(async {
/// let a = AsyncDropGuard::new(Conn(Err(1)));
/// let b = AsyncDropGuard::new(Conn(Err(2)));
/// let (value, (ra, rb)) = with_async_drop!(all a, b => { "done" });
/// assert_eq!((value, ra, rb), ("done", Err(1), Err(2)));
/// # });
/// ```
#[macro_export]
macro_rules! with_async_drop {
    (sequential $($form:tt)+) => {
        $crate::__with_async_drop!(sequential; $($form)+)
    };
    ($($form:tt)+) => {
        $crate::__with_async_drop!(joined; $($form)+)
    };
}

/// The forms of [`with_async_drop!`], with the guards cleaned up `$how`.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_async_drop {
    ($how:ident; infallible $($guard:ident),+ $(,)? => $body:block) => {{
        let __asyncdrop_value = async $body.await;
        $crate::__async_drop!($how; $($guard)+);
        $( $crate::__private::infallible($guard); )+
        __asyncdrop_value
    }};
    ($how:ident; all $($guard:ident),+ $(,)? => $body:block) => {{
        let __asyncdrop_value = async $body.await;
        $crate::__async_drop!($how; $($guard)+);
        (__asyncdrop_value, ($($guard,)+))
    }};
    ($how:ident; $($guard:ident),+ $(,)? => $body:block, map_err = $map:expr $(,)?) => {{
        let mut __asyncdrop_value = async $body.await;
        $crate::__async_drop!($how; $($guard)+);
        $(
            if let ::core::result::Result::Err(e) = $guard {
                if ::core::result::Result::is_ok(&__asyncdrop_value) {
                    __asyncdrop_value = ::core::result::Result::Err(($map)(e));
                }
            }
        )+
        __asyncdrop_value
    }};
    ($how:ident; $($guard:ident),+ $(,)? => $body:block) => {{
        let mut __asyncdrop_value = async $body.await;
        $crate::__async_drop!($how; $($guard)+);
        $(
            if let ::core::result::Result::Err(e) = $guard {
                if ::core::result::Result::is_ok(&__asyncdrop_value) {
                    __asyncdrop_value =
                        ::core::result::Result::Err(::core::convert::From::from(e));
                }
            }
        )+
        __asyncdrop_value
    }};
}

/// Cleans up the listed guards, shadowing each with its result: `joined`, all at
/// once in this task; `sequential`, one after the other, last listed first.
#[doc(hidden)]
#[macro_export]
macro_rules! __async_drop {
    (joined; $guard:ident) => {
        let $guard = $crate::AsyncDropGuard::async_drop($guard).await;
    };
    (joined; $($guard:ident)+) => {
        // Every cleanup is started before any is awaited: dropped early, each one
        // unfinished reports itself as cancelled.
        $(
            let mut $guard = ::core::pin::pin!($crate::__private::maybe_done(
                $crate::AsyncDropGuard::async_drop($guard)
            ));
        )+
        ::core::future::poll_fn(|cx| {
            let mut ready = true;
            $( ready &= ::core::future::Future::poll($guard.as_mut(), cx).is_ready(); )+
            if ready {
                ::core::task::Poll::Ready(())
            } else {
                ::core::task::Poll::Pending
            }
        })
        .await;
        $( let $guard = $crate::__private::take_output($guard.as_mut()); )+
    };
    (sequential; $($guard:ident)+) => {
        $crate::__async_drop_rev!([$($guard)+] []);
    };
}

/// Cleans up the listed guards last first, shadowing each with its result.
#[doc(hidden)]
#[macro_export]
macro_rules! __async_drop_rev {
    ([$head:ident $($tail:ident)*] [$($rev:ident)*]) => {
        $crate::__async_drop_rev!([$($tail)*] [$head $($rev)*])
    };
    ([] [$($rev:ident)*]) => {
        $( let $rev = $crate::AsyncDropGuard::async_drop($rev).await; )*
    };
}
