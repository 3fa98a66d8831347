//! The error of a cleanup of many values.

use alloc::vec::Vec;
use core::error::Error;
use core::fmt;

/// Every error of a cleanup of many values: a collection, a `Vec`, or an iterator
/// given to [`async_drop_iter`](super::async_drop_iter).
///
/// The errors are kept in *element order* — the order of the elements in the
/// collection (a `Vec`'s index order, a map's iteration order, the iterator's order)
/// — whatever order the cleanups finished or ran in. Each error comes with its
/// element's position in that order ([`iter_indexed`](Self::iter_indexed)). It holds
/// at least one error.
///
/// # Examples
///
/// ```
/// use asyncdrop::collections::async_drop_iter;
/// use asyncdrop::{AsyncDrop, AsyncDropGuard};
///
/// struct Conn(u16);
/// impl AsyncDrop for Conn {
///     type Error = String;
///     async fn async_drop_impl(self) -> Result<(), String> {
///         if self.0 % 2 == 0 { Ok(()) } else { Err(format!("{} reset", self.0)) }
///     }
/// }
///
/// # futures_executor::block_on(async {
/// let conns = (0..5).map(|port| AsyncDropGuard::new(Conn(port)));
/// let err = async_drop_iter(conns).await.unwrap_err();
/// assert_eq!(err.len(), 2);
/// assert_eq!(err.first(), "1 reset");
/// assert_eq!(err.iter_indexed().map(|(i, _)| i).collect::<Vec<_>>(), [1, 3]);
/// assert_eq!(err.to_string(), "2 of 5 cleanups failed; [1]: 1 reset; [3]: 3 reset");
/// assert_eq!(err.into_vec(), ["1 reset", "3 reset"]);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CleanupErrors<E> {
    /// `(position, error)`, sorted by position; never empty.
    errors: Vec<(usize, E)>,
    /// How many values were cleaned up in all.
    total: usize,
}

impl<E> CleanupErrors<E> {
    /// `None` if there is no error. `errors` must be sorted by position.
    pub(crate) fn new(errors: Vec<(usize, E)>, total: usize) -> Option<Self> {
        debug_assert!(errors.windows(2).all(|w| w[0].0 < w[1].0));
        debug_assert!(errors.last().map_or(true, |(i, _)| *i < total));
        if errors.is_empty() {
            None
        } else {
            Some(CleanupErrors { errors, total })
        }
    }

    /// The error of the first element (in element order) that failed.
    pub fn first(&self) -> &E {
        &self.errors[0].1
    }

    /// How many elements failed; at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// # use asyncdrop::collections::async_drop_iter;
    /// # use asyncdrop::{AsyncDrop, AsyncDropGuard};
    /// # struct Conn(Result<(), u8>);
    /// # impl AsyncDrop for Conn {
    /// #     type Error = u8;
    /// #     async fn async_drop_impl(self) -> Result<(), u8> { self.0 }
    /// # }
    /// # futures_executor::block_on(async {
    /// let conns = [Err(1), Ok(()), Err(3)].map(|r| AsyncDropGuard::new(Conn(r)));
    /// let err = async_drop_iter(conns).await.unwrap_err();
    /// assert_eq!(err.len(), 2);
    /// # });
    /// ```
    #[allow(
        clippy::len_without_is_empty,
        reason = "never empty: a cleanup without errors gives `Ok(())`"
    )]
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// How many elements were cleaned up in all, successfully or not.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The errors, in element order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &E> + DoubleEndedIterator + '_ {
        self.errors.iter().map(|(_, e)| e)
    }

    /// The errors with the positions (in element order, counting from 0) of the
    /// elements that failed.
    pub fn iter_indexed(
        &self,
    ) -> impl ExactSizeIterator<Item = (usize, &E)> + DoubleEndedIterator + '_ {
        self.errors.iter().map(|(i, e)| (*i, e))
    }

    /// The errors, in element order.
    pub fn into_vec(self) -> Vec<E> {
        self.errors.into_iter().map(|(_, e)| e).collect()
    }

    /// The errors with the positions of the elements that failed, in element order.
    pub fn into_indexed(self) -> Vec<(usize, E)> {
        self.errors
    }
}

impl<E> IntoIterator for CleanupErrors<E> {
    type Item = E;
    type IntoIter = core::iter::Map<alloc::vec::IntoIter<(usize, E)>, fn((usize, E)) -> E>;

    /// The errors, in element order.
    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter().map(|(_, e)| e)
    }
}

impl<E: fmt::Display> fmt::Display for CleanupErrors<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} cleanups failed", self.len(), self.total)?;
        for (i, e) in &self.errors {
            write!(f, "; [{i}]: {e}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "defmt")]
impl<E: defmt::Format> defmt::Format for CleanupErrors<E> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "{=usize} of {=usize} cleanups failed: {}",
            self.len(),
            self.total,
            self.errors.as_slice()
        );
    }
}

impl<E: Error + 'static> Error for CleanupErrors<E> {
    /// The first error, in element order.
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.first())
    }
}
