// The tests share one PostgreSQL server, which one of them stops and starts again.
[assembly: DoNotParallelize]
