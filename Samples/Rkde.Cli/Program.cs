using Rkde.Cli;
using Rkde.Cli.Scoring;

return RkdeCli.Run(args, Console.Out, Console.Error, new MlNetEngine());
