using Rkde.Cli;

return RkdeCli.Run(args, Console.Out, Console.Error);
