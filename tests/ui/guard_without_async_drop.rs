// Only types with async cleanup can be guarded.
use asyncdrop::AsyncDropGuard;

struct Plain;

fn main() {
    let guard = AsyncDropGuard::new(Plain);
    let _ = AsyncDropGuard::into_inner_without_cleanup(guard);
}
