namespace Veil.Ml;
