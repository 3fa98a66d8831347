// A union does not know which field holds a value.
use asyncdrop::AsyncDrop;

#[derive(AsyncDrop)]
union Either {
    a: u32,
    b: f32,
}

fn main() {}
