from kdl_transformer.cli import main

raise SystemExit(main())
