from spectral_fast.cli import main

raise SystemExit(main())
